/* conf: settings from embedded defaults and an INI file.
 *
 * The INI syntax is read by inih (Debian's libinih); this file only knows
 * the settings.  Each setting is one row of conf_table: section, name (the
 * seed's names for the [pxe] block), type and bounds, so loading, checking
 * and printing all walk the same table. */
#include "conf/conf.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"

enum conf_type {
	CT_BOOL,
	CT_UINT,    /* unsigned, bounded */
	CT_PORT,    /* uint16_t 1..65535 */
	CT_STR,     /* char[] of the member's size */
	CT_BIND,    /* include|exclude */
	CT_IFACES,  /* list of interface names */
	CT_GUID,    /* "" or a GUID */
	CT_LEVEL,   /* log level word */
	CT_URL,     /* store URL: sqlite:PATH */
	CT_FILE,    /* a plain file name (boot program), no slashes */
};

struct conf_item {
	const char *section;
	const char *name;
	const char *label;      /* name in the printed block; NULL = name */
	enum conf_type type;
	size_t off;             /* offsetof in struct pxed_conf */
	size_t size;            /* sizeof the member (CT_STR) */
	unsigned long long min, max;
	bool secret;            /* printed as <non empty>/<empty> */
};

#define M(f) offsetof(struct pxed_conf, f), sizeof(((struct pxed_conf *)0)->f)

static const struct conf_item conf_table[] = {
	{ "pxe", "IsActive", NULL, CT_BOOL, M(is_active), 0, 0, false },
	{ "pxe", "SupportUnknownMachines", NULL, CT_BOOL, M(support_unknown), 0, 0, false },
	{ "pxe", "MACIgnoreListFile", NULL, CT_STR, M(mac_ignore_file), 0, 0, false },
	{ "pxe", "ResponseDelay", NULL, CT_UINT, M(response_delay), 0, 60, false },
	{ "pxe", "CacheExpire", NULL, CT_UINT, M(cache_expire), 0, 86400, false },
	{ "pxe", "BindPolicy", NULL, CT_BIND, M(bind_policy), 0, 0, false },
	{ "pxe", "BindInterfaces", NULL, CT_IFACES, M(bind_ifaces), 0, 0, false },
	{ "pxe", "PXEGUID", "PXE GUID", CT_GUID, M(pxe_guid), 0, 0, false },
	{ "pxe", "PXEPassword", NULL, CT_STR, M(pxe_password), 0, 0, true },
	{ "pxe", "BootProgramBIOS", NULL, CT_FILE, M(boot_bios), 0, 0, false },
	{ "pxe", "BootProgramUEFIx64", NULL, CT_FILE, M(boot_uefi_x64), 0, 0, false },
	{ "pxe", "BootProgramDir", NULL, CT_STR, M(boot_program_dir), 0, 0, false },
	{ "pxe", "DHCPPort", NULL, CT_PORT, M(dhcp_port), 1, 65535, false },
	{ "pxe", "PXEPort", NULL, CT_PORT, M(pxe_port), 1, 65535, false },
	{ "tftp", "Root", "TFTP Root", CT_STR, M(tftp_root), 0, 0, false },
	{ "tftp", "Port", "TFTP Port", CT_PORT, M(tftp_port), 1, 65535, false },
	/* RFC 2348: blksize 8..65464; RFC 7440: windowsize 1..65535. */
	{ "tftp", "MaxBlockSize", "TFTP MaxBlockSize", CT_UINT, M(tftp_max_block_size), 512, 65464, false },
	{ "tftp", "MaxWindowSize", "TFTP MaxWindowSize", CT_UINT, M(tftp_max_window_size), 1, 65535, false },
	{ "tftp", "MaxTransfers", "TFTP MaxTransfers", CT_UINT, M(tftp_max_transfers), 1, 100000, false },
	{ "http", "Port", "HTTP Port", CT_PORT, M(http_port), 1, 65535, false },
	{ "http", "Address", "HTTP Address", CT_STR, M(http_address), 0, 0, false },
	{ "store", "URL", "Store URL", CT_URL, M(store_url), 0, 0, false },
	{ "store", "StateDir", "State Dir", CT_STR, M(state_dir), 0, 0, false },
	{ "store", "EventRetentionDays", "Event Retention Days", CT_UINT, M(event_retention_days), 0, 36500, false },
	{ "log", "Level", "Log Level", CT_LEVEL, M(log_level), 0, 0, false },
};

void conf_defaults(struct pxed_conf *c)
{
	memset(c, 0, sizeof(*c));
	/* The seed's defaults, except where pxed's differ on purpose. */
	c->is_active = true;
	c->support_unknown = false;
	c->response_delay = 0;
	c->cache_expire = 3600;
	c->bind_policy = BIND_EXCLUDE;
	strcpy(c->boot_bios, "undionly.kpxe");
	strcpy(c->boot_uefi_x64, "ipxe.efi");
	strcpy(c->boot_program_dir, "/usr/lib/ipxe");
	c->dhcp_port = 67;
	c->pxe_port = 4011;
	c->tftp_port = 69;
	/* 1468 = 1500-byte Ethernet MTU - IP (20) - UDP (8) - TFTP (4). */
	c->tftp_max_block_size = 1468;
	c->tftp_max_window_size = 64;
	c->tftp_max_transfers = 2000;
	c->http_port = 8080;
	strcpy(c->state_dir, "pxed-state");
	c->event_retention_days = 90;
	strcpy(c->log_level, "info");
	/* tftp_root and store_url default to paths under state_dir, filled
	 * in by conf_finish() once the file has had its say. */
}

struct conf_parse {
	struct pxed_conf *c;
	char *err;
	const char *path;
	int lineno_hint;
};

static int conf_set(struct pxed_conf *c, const struct conf_item *it, const char *value,
		    char *why, size_t whylen)
{
	char *field = (char *)c + it->off;
	unsigned long long v;
	int r;

	switch (it->type) {
	case CT_BOOL: {
		bool b;
		if (parse_bool(value, &b) < 0) {
			snprintf(why, whylen, "%s: '%s' is not yes/no (yes, no, true, false, on, off, 1, 0)", it->name, value);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	}
	case CT_UINT:
	case CT_PORT:
		r = parse_uint(value, it->min, it->max, &v);
		if (r < 0) {
			snprintf(why, whylen, "%s: '%s' is %s (%llu to %llu)", it->name, value,
				 r == -ERANGE ? "out of range" : "not a whole number", it->min, it->max);
			return r;
		}
		if (it->type == CT_PORT)
			*(uint16_t *)field = (uint16_t)v;
		else
			*(unsigned *)field = (unsigned)v;
		return 0;
	case CT_STR:
	case CT_URL:
	case CT_FILE:
		if (strlen(value) >= it->size) {
			snprintf(why, whylen, "%s: value too long (at most %zu characters)", it->name, it->size - 1);
			return -ENAMETOOLONG;
		}
		if (it->type == CT_URL && value[0] && strncmp(value, "sqlite:", 7) != 0) {
			snprintf(why, whylen, "%s: '%s' is not a supported store URL (sqlite:PATH)", it->name, value);
			return -EINVAL;
		}
		if (it->type == CT_URL && value[0] && value[7] == '\0') {
			snprintf(why, whylen, "%s: sqlite: needs a path", it->name);
			return -EINVAL;
		}
		if (it->type == CT_FILE && (value[0] == '\0' || strchr(value, '/') || strchr(value, '\\') || value[0] == '.')) {
			snprintf(why, whylen, "%s: '%s' must be a plain file name in BootProgramDir or the TFTP root", it->name, value);
			return -EINVAL;
		}
		strcpy(field, value);
		return 0;
	case CT_BIND:
		if (strcasecmp(value, "include") == 0)
			c->bind_policy = BIND_INCLUDE;
		else if (strcasecmp(value, "exclude") == 0)
			c->bind_policy = BIND_EXCLUDE;
		else {
			snprintf(why, whylen, "%s: '%s' is neither include nor exclude", it->name, value);
			return -EINVAL;
		}
		return 0;
	case CT_IFACES: {
		/* Comma- or space-separated interface names. */
		char buf[1024];
		if (str_copy(buf, sizeof(buf), value) < 0) {
			snprintf(why, whylen, "%s: list too long", it->name);
			return -ENAMETOOLONG;
		}
		c->n_bind_ifaces = 0;
		for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok;
		     tok = strtok_r(NULL, ", \t", &save)) {
			if (c->n_bind_ifaces >= CONF_MAX_IFACES) {
				snprintf(why, whylen, "%s: more than %d interfaces", it->name, CONF_MAX_IFACES);
				return -E2BIG;
			}
			if (strlen(tok) >= IF_NAMESIZE || strchr(tok, '/')) {
				snprintf(why, whylen, "%s: '%s' is not an interface name", it->name, tok);
				return -EINVAL;
			}
			strcpy(c->bind_ifaces[c->n_bind_ifaces++], tok);
		}
		return 0;
	}
	case CT_GUID: {
		uint8_t g[GUID_LEN];
		if (value[0] && guid_parse(value, g) < 0) {
			snprintf(why, whylen, "%s: '%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", it->name, value);
			return -EINVAL;
		}
		if (value[0])
			guid_format(g, field);
		else
			field[0] = '\0';
		return 0;
	}
	case CT_LEVEL: {
		enum log_level lvl;
		if (log_level_parse(value, &lvl) < 0) {
			snprintf(why, whylen, "%s: '%s' is not error, warn, info or debug", it->name, value);
			return -EINVAL;
		}
		strcpy(field, value);
		return 0;
	}
	}
	return -EINVAL;
}

static const struct conf_item *conf_find(const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++)
		if (strcasecmp(conf_table[i].section, section) == 0 &&
		    strcasecmp(conf_table[i].name, name) == 0)
			return &conf_table[i];
	return NULL;
}

static bool conf_section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++)
		if (strcasecmp(conf_table[i].section, section) == 0)
			return true;
	return false;
}

/* inih handler: returning 0 makes ini_parse() report this line. */
static int conf_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	char why[CONF_ERR_LEN - 64];
	if (p->err[0])
		return 1; /* report only the first problem */
	if (!conf_section_known(section)) {
		snprintf(p->err, CONF_ERR_LEN, "unknown section [%s]", section);
		return 0;
	}
	const struct conf_item *it = conf_find(section, name);
	if (!it) {
		snprintf(p->err, CONF_ERR_LEN, "unknown setting '%s' in [%s]", name, section);
		return 0;
	}
	if (conf_set(p->c, it, value, why, sizeof(why)) < 0) {
		snprintf(p->err, CONF_ERR_LEN, "%s", why);
		return 0;
	}
	return 1;
}

/* Derive what defaults from other settings, once everything is read. */
static int conf_finish(struct pxed_conf *c, char err[CONF_ERR_LEN])
{
	int n;
	if (c->tftp_root[0] == '\0') {
		n = snprintf(c->tftp_root, sizeof(c->tftp_root), "%s/root", c->state_dir);
		if (n < 0 || (size_t)n >= sizeof(c->tftp_root))
			goto too_long;
	}
	if (c->store_url[0] == '\0') {
		n = snprintf(c->store_url, sizeof(c->store_url), "sqlite:%s/pxed.db", c->state_dir);
		if (n < 0 || (size_t)n >= sizeof(c->store_url))
			goto too_long;
	}
	if (c->bind_policy == BIND_INCLUDE && c->n_bind_ifaces == 0) {
		snprintf(err, CONF_ERR_LEN, "BindPolicy include with no BindInterfaces would answer no one");
		return -EINVAL;
	}
	return 0;
too_long:
	snprintf(err, CONF_ERR_LEN, "StateDir too long");
	return -ENAMETOOLONG;
}

int conf_load(struct pxed_conf *c, const char *path, char err[CONF_ERR_LEN])
{
	char why[CONF_ERR_LEN] = "";
	int r;
	err[0] = '\0';
	conf_defaults(c);
	if (path) {
		if (str_copy(c->source, sizeof(c->source), path) < 0) {
			snprintf(err, CONF_ERR_LEN, "%s: path too long", path);
			return -ENAMETOOLONG;
		}
		FILE *f = fopen(path, "re");
		if (!f) {
			r = -errno;
			snprintf(err, CONF_ERR_LEN, "%s: %s", path, strerror(errno));
			return r;
		}
		struct conf_parse p = { .c = c, .err = why, .path = path };
		int line = ini_parse_file(f, conf_ini_handler, &p);
		fclose(f);
		if (line != 0) {
			if (line < 0) {
				snprintf(err, CONF_ERR_LEN, "%s: cannot read", path);
				return -EIO;
			}
			/* inih reports syntax errors without calling us. */
			snprintf(err, CONF_ERR_LEN, "%s:%d: %s", path, line,
				 why[0] ? why : "syntax error (expected [section] or Name = value)");
			return -EINVAL;
		}
	}
	r = conf_finish(c, why);
	if (r < 0) {
		snprintf(err, CONF_ERR_LEN, "%s: %s", path ? path : "defaults", why);
		return r;
	}
	return 0;
}

bool conf_iface_allowed(const struct pxed_conf *c, const char *ifname)
{
	bool listed = false;
	for (unsigned i = 0; i < c->n_bind_ifaces; i++)
		if (strcmp(c->bind_ifaces[i], ifname) == 0)
			listed = true;
	return c->bind_policy == BIND_INCLUDE ? listed : !listed;
}

static void conf_format_value(const struct pxed_conf *c, const struct conf_item *it, char *buf, size_t len)
{
	const char *field = (const char *)c + it->off;
	switch (it->type) {
	case CT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "Yes" : "No");
		break;
	case CT_UINT:
		snprintf(buf, len, "%u", *(const unsigned *)field);
		break;
	case CT_PORT:
		snprintf(buf, len, "%u", *(const uint16_t *)field);
		break;
	case CT_BIND: {
		/* Seed shape: "BindPolicy: Exclude <empty>" */
		int n = snprintf(buf, len, "%s", c->bind_policy == BIND_INCLUDE ? "Include" : "Exclude");
		if (c->n_bind_ifaces == 0)
			snprintf(buf + n, len - (size_t)n, " <empty>");
		for (unsigned i = 0; i < c->n_bind_ifaces && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, "%s%s", i ? "," : " ", c->bind_ifaces[i]);
		break;
	}
	default:
		if (it->secret)
			snprintf(buf, len, "%s", field[0] ? "<non empty>" : "<empty>");
		else
			snprintf(buf, len, "%s", field[0] ? field : "<empty>");
	}
}

void conf_print_block(const struct pxed_conf *c, FILE *out)
{
	char val[1024];
	fprintf(out, "Loaded PXE settings from %s:\n", c->source[0] ? c->source : "<embedded defaults>");
	fprintf(out, "PXE Settings:\n");
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++) {
		const struct conf_item *it = &conf_table[i];
		if (it->type == CT_IFACES)
			continue; /* shown with BindPolicy, as the seed does */
		conf_format_value(c, it, val, sizeof(val));
		fprintf(out, "    %s: %s\n", it->label ? it->label : it->name, val);
	}
}
