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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <crypt.h>
#include <gnutls/crypto.h>
#include <sys/random.h>

#include "common/log.h"
#include "store/store.h"
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
	CT_URL,     /* store URL: sqlite:PATH or postgresql://... */
	CT_FILE,    /* a plain file name (boot program), no slashes */
	CT_LOADER,  /* boot loader family: "ipxe" or "grub" (min 1: "grub" only) */
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
	bool restart;           /* only read at start-up: a change needs a restart */
};

#define M(f) .off = offsetof(struct pxed_conf, f), .size = sizeof(((struct pxed_conf *)0)->f)

static const struct conf_item conf_table[] = {
	{ .section = "pxe", .name = "IsActive", .type = CT_BOOL, M(is_active) },
	{ .section = "pxe", .name = "SupportUnknownMachines", .type = CT_BOOL, M(support_unknown) },
	{ .section = "pxe", .name = "MACIgnoreListFile", .type = CT_STR, M(mac_ignore_file) },
	{ .section = "pxe", .name = "ResponseDelay", .type = CT_UINT, M(response_delay),
	  .max = 60 },
	{ .section = "pxe", .name = "CacheExpire", .type = CT_UINT, M(cache_expire), .max = 86400 },
	{ .section = "pxe", .name = "BindPolicy", .type = CT_BIND, M(bind_policy) },
	{ .section = "pxe", .name = "BindInterfaces", .type = CT_IFACES, M(bind_ifaces) },
	{ .section = "pxe", .name = "PXEGUID", .label = "PXE GUID", .type = CT_GUID, M(pxe_guid) },
	{ .section = "pxe", .name = "PXEPassword", .type = CT_STR, M(pxe_password),
	  .secret = true },
	{ .section = "pxe", .name = "PXEPasswordGRUB", .type = CT_BOOL, M(pxe_password_grub) },
	{ .section = "pxe", .name = "BootProgramBIOS", .type = CT_FILE, M(boot_bios),
	  .restart = true },
	{ .section = "pxe", .name = "BootProgramUEFIx64", .type = CT_FILE, M(boot_uefi_x64),
	  .restart = true },
	{ .section = "pxe", .name = "BootProgramDir", .type = CT_STR, M(boot_program_dir),
	  .restart = true },
	{ .section = "pxe", .name = "BootLoaderUEFIx64", .type = CT_LOADER, M(loader_uefi_x64) },
	{ .section = "pxe", .name = "BootLoaderUEFIarm64", .type = CT_LOADER, M(loader_uefi_arm64),
	  .min = 1 },
	{ .section = "pxe", .name = "ShimDir", .type = CT_STR, M(shim_dir), .restart = true },
	{ .section = "pxe", .name = "GrubDir", .type = CT_STR, M(grub_dir), .restart = true },
	{ .section = "pxe", .name = "DHCPPort", .type = CT_PORT, M(dhcp_port), .min = 1,
	  .max = 65535, .restart = true },
	{ .section = "pxe", .name = "User", .type = CT_STR, M(run_user), .restart = true },
	{ .section = "pxe", .name = "PXEPort", .type = CT_PORT, M(pxe_port), .min = 1, .max = 65535,
	  .restart = true },
	{ .section = "pxe", .name = "BootTokenLifetime", .type = CT_UINT, M(boot_token_lifetime),
	  .min = 1, .max = 86400 },
	{ .section = "pxe", .name = "BootTokens", .type = CT_UINT, M(boot_tokens), .min = 16,
	  .max = 1000000, .restart = true },
	{ .section = "pxe", .name = "UnknownMachinesPerMinute", .type = CT_UINT,
	  M(unknown_machines_per_minute), .max = 1000000 },
	{ .section = "pxe", .name = "DHCPReceiveBuffer", .type = CT_UINT, M(dhcp_rcvbuf_kib),
	  .min = 64, .max = 1048576, .restart = true },
	{ .section = "pxe", .name = "DHCPMaxPending", .type = CT_UINT, M(dhcp_max_pending),
	  .min = 1, .max = 65536, .restart = true },
	{ .section = "pxe", .name = "WakeInterfaces", .type = CT_STR, M(wake_interfaces) },
	{ .section = "pxe", .name = "WakeRelayPrefix", .type = CT_UINT, M(wake_relay_prefix),
	  .max = 30 },
	{ .section = "pxe", .name = "WakeMaxDevices", .type = CT_UINT, M(wake_max_devices),
	  .min = 1, .max = 100000 },
	{ .section = "tftp", .name = "Root", .label = "TFTP Root", .type = CT_STR, M(tftp_root),
	  .restart = true },
	{ .section = "tftp", .name = "Port", .label = "TFTP Port", .type = CT_PORT, M(tftp_port),
	  .min = 1, .max = 65535, .restart = true },
	/* RFC 2348: blksize 8..65464; RFC 7440: windowsize 1..65535. */
	{ .section = "tftp", .name = "MaxBlockSize", .label = "TFTP MaxBlockSize", .type = CT_UINT,
	  M(tftp_max_block_size), .min = 512, .max = 65464, .restart = true },
	{ .section = "tftp", .name = "MaxWindowSize", .label = "TFTP MaxWindowSize",
	  .type = CT_UINT, M(tftp_max_window_size), .min = 1, .max = 65535, .restart = true },
	{ .section = "tftp", .name = "MaxTransfers", .label = "TFTP MaxTransfers", .type = CT_UINT,
	  M(tftp_max_transfers), .min = 1, .max = 100000, .restart = true },
	{ .section = "tftp", .name = "MaxTransfersPerAddress",
	  .label = "TFTP MaxTransfersPerAddress", .type = CT_UINT, M(tftp_max_per_address),
	  .max = 100000 },
	/* EV_WORK_MAX_THREADS: threads of one ev_work instance. */
	{ .section = "tftp", .name = "Workers", .label = "TFTP Workers", .type = CT_UINT,
	  M(tftp_workers), .min = 1, .max = 16, .restart = true },
	{ .section = "http", .name = "Port", .label = "HTTP Port", .type = CT_PORT, M(http_port),
	  .min = 1, .max = 65535, .restart = true },
	{ .section = "http", .name = "Address", .label = "HTTP Address", .type = CT_STR,
	  M(http_address), .restart = true },
	{ .section = "http", .name = "HTTPSPort", .label = "HTTPS Port", .type = CT_UINT,
	  M(http_https_port), .max = 65535, .restart = true },
	{ .section = "http", .name = "TLSCertificate", .type = CT_STR, M(http_tls_cert),
	  .restart = true },
	{ .section = "http", .name = "TLSKey", .type = CT_STR, M(http_tls_key), .restart = true },
	{ .section = "http", .name = "AdminHTTPSOnly", .type = CT_BOOL, M(http_admin_https_only) },
	{ .section = "http", .name = "TokenFile", .type = CT_STR, M(http_token_file),
	  .restart = true },
	{ .section = "http", .name = "ReadTokenFile", .type = CT_STR, M(http_read_token_file),
	  .restart = true },
	{ .section = "http", .name = "MaxConnections", .label = "HTTP MaxConnections",
	  .type = CT_UINT, M(http_max_connections), .min = 1, .max = 65535, .restart = true },
	{ .section = "http", .name = "MaxConnectionsPerAddress",
	  .label = "HTTP MaxConnectionsPerAddress", .type = CT_UINT, M(http_max_per_address),
	  .max = 65535 },
	{ .section = "http", .name = "ConsoleSessionMinutes", .type = CT_UINT,
	  M(http_console_session_minutes), .min = 5, .max = 10080 },
	{ .section = "http", .name = "MaxEventStreams", .type = CT_UINT, M(http_max_event_streams),
	  .min = 1, .max = 1024 },
	{ .section = "http", .name = "AnswerTokenLifetime", .type = CT_UINT,
	  M(answer_token_lifetime), .min = 60, .max = 604800 },
	{ .section = "store", .name = "URL", .label = "Store URL", .type = CT_URL, M(store_url),
	  .restart = true },
	{ .section = "store", .name = "StateDir", .label = "State Dir", .type = CT_STR,
	  M(state_dir), .restart = true },
	{ .section = "store", .name = "EventRetentionDays", .label = "Event Retention Days",
	  .type = CT_UINT, M(event_retention_days), .max = 36500 },
	{ .section = "store", .name = "EventMaxRows", .type = CT_UINT, M(event_max_rows),
	  .max = 1000000000 },
	{ .section = "store", .name = "DecisionRepeatWindow", .type = CT_UINT,
	  M(decision_repeat_window), .max = 3600 },
	{ .section = "log", .name = "Level", .label = "Log Level", .type = CT_LEVEL, M(log_level) },
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
	strcpy(c->boot_uefi_x64, "snponly.efi");
	strcpy(c->boot_program_dir, "/usr/lib/ipxe");
	strcpy(c->loader_uefi_x64, vocab_loader_name(VOCAB_LOADER_IPXE));
	strcpy(c->loader_uefi_arm64, vocab_loader_name(VOCAB_LOADER_GRUB));
	/* Debian's shim-signed and grub-efi-*-signed / grub-efi-arm64-bin. */
	strcpy(c->shim_dir, "/usr/lib/shim");
	strcpy(c->grub_dir, "/usr/lib/grub");
	c->dhcp_port = 67;
	c->pxe_port = 4011;
	c->boot_token_lifetime = 300;
	c->answer_token_lifetime = 21600;
	c->boot_tokens = 8192;
	/* A boot storm's DISCOVERs arrive faster than a cold decision is
	 * made; 4 MiB holds about 2,000 of them (bench/dhcp_bench.sh). */
	c->dhcp_rcvbuf_kib = 4096;
	c->dhcp_max_pending = 1024;
	c->wake_relay_prefix = 24;
	c->wake_max_devices = 10000;
	c->tftp_port = 69;
	/* 1468 = 1500-byte Ethernet MTU - IP (20) - UDP (8) - TFTP (4). */
	c->tftp_max_block_size = 1468;
	c->tftp_max_window_size = 64;
	c->tftp_max_transfers = 2000;
	/* Enough to keep one disk busy while another read waits; a server
	 * whose boot files are on a RAID or on network storage may want
	 * more. */
	c->tftp_workers = 2;
	/* A NAT or a lab router in front of a classroom shows many machines
	 * as one address; 64 is still 3% of MaxTransfers. */
	c->tftp_max_per_address = 64;
	c->http_max_connections = 256;
	c->http_max_per_address = 64;
	c->http_console_session_minutes = 480;
	c->http_max_event_streams = 32;
	c->http_port = 8080;
	strcpy(c->state_dir, "pxed-state");
	c->event_retention_days = 90;
	c->event_max_rows = 1000000;
	c->decision_repeat_window = 60;
	c->unknown_machines_per_minute = 60;
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
		if (it->type == CT_URL && value[0]) {
			char what[256];
			if (store_url_check(value, what, sizeof(what)) < 0) {
				snprintf(why, whylen, "%s: %s", it->name, what);
				return -EINVAL;
			}
		}
		if (it->type == CT_FILE && (value[0] == '\0' || strchr(value, '/') || strchr(value, '\\') || value[0] == '.')) {
			snprintf(why, whylen, "%s: '%s' must be a plain file name in BootProgramDir or the TFTP root", it->name, value);
			return -EINVAL;
		}
		strcpy(field, value);
		return 0;
	case CT_LOADER: {
		/* No arm64 iPXE exists in Debian: "grub" is the only choice
		 * there (min 1). */
		int l = vocab_loader_parse(value, VOCAB_ANY_CASE);
		char names[64];
		if (l == VOCAB_LOADER_GRUB || (l >= 0 && it->min == 0)) {
			strcpy(field, vocab_loader_name((enum vocab_loader)l));
			return 0;
		}
		if (it->min)
			snprintf(names, sizeof(names),
				 "%s (the only boot loader for this architecture)",
				 vocab_loader_name(VOCAB_LOADER_GRUB));
		else
			vocab_list(VOCAB_LOADER, " or ", names, sizeof(names));
		snprintf(why, whylen, "%s: '%s' is not %s", it->name, value, names);
		return -EINVAL;
	}
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

int conf_password_hash(const char *password, char *out, size_t len)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int r = 0;

	/* yescrypt, libxcrypt's default cost; the salt comes from getrandom()
	 * inside crypt_gensalt_rn when given no random bytes. */
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return -errno ? -errno : -EINVAL;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	h = crypt_rn(password, salt, cd, sizeof(*cd));
	if (!h || h[0] == '*')
		r = -EINVAL;
	else if (str_copy(out, len, h) < 0)
		r = -ENAMETOOLONG;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}

bool conf_password_verify(const char *hash, const char *password)
{
	struct crypt_data *cd;
	const char *h;
	size_t n = strlen(hash);
	unsigned char diff = 0;
	bool ok;

	if (!hash[0])
		return false;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	h = crypt_rn(password, hash, cd, sizeof(*cd));
	if (!h || h[0] == '*' || strlen(h) != n) {
		ok = false;
	} else {
		/* constant time over the hash: no early exit on the first
		 * differing byte */
		for (size_t i = 0; i < n; i++)
			diff |= (unsigned char)(h[i] ^ hash[i]);
		ok = diff == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int conf_grub_pbkdf2(const char *password, const uint8_t *salt, size_t salt_len,
		     unsigned iterations, char *out, size_t len)
{
	gnutls_datum_t key = { .data = (unsigned char *)password,
			       .size = (unsigned)strlen(password) };
	gnutls_datum_t s = { .data = (unsigned char *)salt, .size = (unsigned)salt_len };
	uint8_t dk[CONF_GRUB_HASH_BYTES];
	size_t need = sizeof("grub.pbkdf2.sha512.4294967295..") + 2 * salt_len + 2 * sizeof(dk);
	int n;

	if (!iterations || !salt_len || salt_len > CONF_GRUB_SALT_BYTES)
		return -EINVAL;
	if (len < need)
		return -ENOBUFS;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA512, &key, &s, iterations, dk, sizeof(dk)) < 0)
		return -EINVAL;
	/* grub-mkpasswd-pbkdf2's shape: decimal count, salt and hash in
	 * upper-case hex. */
	n = snprintf(out, len, "grub.pbkdf2.sha512.%u.", iterations);
	for (size_t i = 0; i < salt_len; i++)
		n += snprintf(out + n, len - (size_t)n, "%02X", salt[i]);
	n += snprintf(out + n, len - (size_t)n, ".");
	for (size_t i = 0; i < sizeof(dk); i++)
		n += snprintf(out + n, len - (size_t)n, "%02X", dk[i]);
	explicit_bzero(dk, sizeof(dk));
	return 0;
}

int conf_grub_password_hash(const char *password, char *out, size_t len)
{
	uint8_t salt[CONF_GRUB_SALT_BYTES];
	ssize_t got = getrandom(salt, sizeof(salt), 0);
	if (got != (ssize_t)sizeof(salt))
		return got < 0 ? -errno : -EIO;
	return conf_grub_pbkdf2(password, salt, sizeof(salt), CONF_GRUB_PBKDF2_ITERATIONS, out,
				len);
}

/* Upper- or lower-case hex, an even count of 2 to max characters; the
 * number of characters read into *n. */
static bool hex_run(const char *s, size_t max, size_t *n)
{
	size_t i = 0;
	while (i <= max && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			    (s[i] >= 'A' && s[i] <= 'F')))
		i++;
	*n = i;
	return i >= 2 && i <= max && i % 2 == 0;
}

bool conf_grub_hash_valid(const char *s)
{
	static const char prefix[] = "grub.pbkdf2.sha512.";
	unsigned long long c = 0;
	size_t i = 0, n;

	if (!s || strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return false;
	s += sizeof(prefix) - 1;
	/* GRUB reads the count with strtoul(..., 0): no leading 0 (octal) */
	if (s[0] < '1' || s[0] > '9')
		return false;
	for (; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		c = c * 10 + (unsigned)(s[i] - '0');
	if (s[i] != '.' || c > 0x7fffffff)
		return false;
	s += i + 1;
	if (!hex_run(s, 2 * CONF_GRUB_SALT_BYTES, &n) || s[n] != '.')
		return false;
	s += n + 1;
	return hex_run(s, 2 * CONF_GRUB_HASH_BYTES, &n) && s[n] == '\0';
}

/* PXEPassword: both hashes from the clear text in c, which is then wiped
 * (or both emptied when it is empty). */
static int conf_password_take(struct pxed_conf *c, char *err, size_t errlen)
{
	int r = 0;

	c->pxe_password_hash[0] = c->pxe_password_grub_hash[0] = '\0';
	if (c->pxe_password[0]) {
		r = conf_password_hash(c->pxe_password, c->pxe_password_hash,
				       sizeof(c->pxe_password_hash));
		if (r == 0)
			r = conf_grub_password_hash(c->pxe_password, c->pxe_password_grub_hash,
						    sizeof(c->pxe_password_grub_hash));
		if (r < 0) {
			c->pxe_password_hash[0] = c->pxe_password_grub_hash[0] = '\0';
			snprintf(err, errlen, "PXEPassword: cannot hash it: %s", strerror(-r));
		}
	}
	explicit_bzero(c->pxe_password, sizeof(c->pxe_password));
	return r;
}

/* The rules between settings, for a whole file and for one change at run
 * time alike. */
static int conf_check(const struct pxed_conf *c, char *err, size_t errlen)
{
	if (c->http_https_port && (!c->http_tls_cert[0] || !c->http_tls_key[0])) {
		snprintf(err, errlen, "HTTPSPort needs TLSCertificate and TLSKey");
		return -EINVAL;
	}
	if (c->http_https_port && c->http_https_port == c->http_port) {
		snprintf(err, errlen, "HTTPSPort must differ from the HTTP Port");
		return -EINVAL;
	}
	if (c->http_admin_https_only && !c->http_https_port) {
		snprintf(err, errlen, "AdminHTTPSOnly needs HTTPSPort");
		return -EINVAL;
	}
	if (c->wake_relay_prefix && c->wake_relay_prefix < 8) {
		snprintf(err, errlen, "WakeRelayPrefix is 0 (no directed broadcast) or 8 to 30");
		return -EINVAL;
	}
	if (c->bind_policy == BIND_INCLUDE && c->n_bind_ifaces == 0) {
		snprintf(err, errlen, "BindPolicy include with no BindInterfaces would answer no one");
		return -EINVAL;
	}
	return 0;
}

/* Derive what defaults from other settings, once everything is read. */
static int conf_finish(struct pxed_conf *c, char err[CONF_ERR_LEN])
{
	int n, r;
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
	if (c->http_token_file[0] == '\0') {
		/* "beside the database": the directory of sqlite:PATH; StateDir
		 * for a database on a server */
		const char *db = store_url_file(c->store_url);
		const char *slash = db ? strrchr(db, '/') : NULL;
		if (!db)
			n = snprintf(c->http_token_file, sizeof(c->http_token_file), "%s/api.token",
				     c->state_dir);
		else if (slash)
			n = snprintf(c->http_token_file, sizeof(c->http_token_file), "%.*s/api.token",
				     (int)(slash - db), db);
		else
			n = snprintf(c->http_token_file, sizeof(c->http_token_file), "api.token");
		if (n < 0 || (size_t)n >= sizeof(c->http_token_file))
			goto too_long;
	}
	if (c->http_read_token_file[0] == '\0') {
		/* beside the admin token */
		const char *slash = strrchr(c->http_token_file, '/');
		if (slash)
			n = snprintf(c->http_read_token_file, sizeof(c->http_read_token_file),
				     "%.*s/api-read.token", (int)(slash - c->http_token_file),
				     c->http_token_file);
		else
			n = snprintf(c->http_read_token_file, sizeof(c->http_read_token_file),
				     "api-read.token");
		if (n < 0 || (size_t)n >= sizeof(c->http_read_token_file))
			goto too_long;
	}
	r = conf_check(c, err, CONF_ERR_LEN);
	if (r < 0)
		return r;
	if (c->pxe_password[0])
		return conf_password_take(c, err, CONF_ERR_LEN);
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
			snprintf(buf, len, "%s",
				 field[0] || c->pxe_password_hash[0] ? "<non empty>" : "<empty>");
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

/* ---- one setting at a time (the admin API's settings get / set) ---------- */

static void conf_setting_of(const struct conf_item *it, struct conf_setting *out)
{
	out->section = it->section;
	out->name = it->name;
	out->label = it->label ? it->label : it->name;
	out->secret = it->secret;
	out->restart = it->restart;
}

/* "Name", "section.Name" or the printed label; NULL with err (and *why
 * -ENOENT or -EINVAL) when none or more than one setting answers to it. */
static const struct conf_item *conf_item_by_key(const char *key, char *err, size_t errlen,
						int *why)
{
	const struct conf_item *found = NULL;
	const char *dot = strchr(key, '.');
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++) {
		const struct conf_item *it = &conf_table[i];
		bool match;
		if (dot)
			match = strlen(it->section) == (size_t)(dot - key) &&
				strncasecmp(it->section, key, (size_t)(dot - key)) == 0 &&
				strcasecmp(it->name, dot + 1) == 0;
		else
			match = strcasecmp(it->name, key) == 0 ||
				(it->label && strcasecmp(it->label, key) == 0);
		if (match && found != it) {
			found = it;
			n++;
		}
	}
	if (n == 1)
		return found;
	*why = n == 0 ? -ENOENT : -EINVAL;
	if (n == 0)
		snprintf(err, errlen, "unknown setting '%s'", key);
	else
		snprintf(err, errlen, "'%s' is ambiguous: say the section too, like tftp.%s or http.%s",
			 key, key, key);
	return NULL;
}

int conf_setting_find(const char *key, struct conf_setting *out, char *err, size_t errlen)
{
	int why = 0;
	const struct conf_item *it = conf_item_by_key(key, err, errlen, &why);
	if (!it)
		return why;
	conf_setting_of(it, out);
	return 0;
}

/* One value as `settings get` shows it: the block's text, except that
 * BindPolicy and BindInterfaces are each their own value, as set. */
static void conf_setting_value(const struct pxed_conf *c, const struct conf_item *it, char *val,
			       size_t len)
{
	if (it->type == CT_IFACES) {
		size_t n = 0;
		val[0] = '\0';
		for (unsigned k = 0; k < c->n_bind_ifaces && n < len; k++)
			n += (size_t)snprintf(val + n, len - n, "%s%s", k ? "," : "",
					      c->bind_ifaces[k]);
	} else if (it->type == CT_BIND) {
		snprintf(val, len, "%s", c->bind_policy == BIND_INCLUDE ? "include" : "exclude");
	} else {
		conf_format_value(c, it, val, len);
	}
}

void conf_settings_foreach(const struct pxed_conf *c,
			   void (*cb)(void *ctx, const struct conf_setting *s, const char *value),
			   void *ctx)
{
	char val[1024];
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++) {
		struct conf_setting st;
		conf_setting_of(&conf_table[i], &st);
		conf_setting_value(c, &conf_table[i], val, sizeof(val));
		cb(ctx, &st, val);
	}
}

int conf_get_value(const struct pxed_conf *c, const char *key, char *buf, size_t len)
{
	char err[CONF_ERR_LEN];
	int why = 0;
	const struct conf_item *it = conf_item_by_key(key, err, sizeof(err), &why);
	if (!it)
		return why;
	conf_setting_value(c, it, buf, len);
	return 0;
}

int conf_set_value(struct pxed_conf *c, const char *key, const char *value, char *err,
		   size_t errlen)
{
	int r = 0;
	const struct conf_item *it = conf_item_by_key(key, err, errlen, &r);
	struct pxed_conf *next;

	if (!it)
		return -ENOENT;
	/* Work on a copy: conf_set() may have written part of a list before
	 * it finds a bad element, and the rules between settings are checked
	 * on the result.  *c changes only when everything passed. */
	next = malloc(sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(next, c, sizeof(*next));
	r = conf_set(next, it, value, err, errlen);
	if (r < 0)
		goto done;
	if (it->type == CT_GUID && !next->pxe_guid[0]) {
		/* main fills an empty one from StateDir at start-up only */
		snprintf(err, errlen, "%s: cannot be emptied while pxed runs (it is this server's identity)",
			 it->name);
		r = -EINVAL;
		goto done;
	}
	if (it->secret) {
		/* PXEPassword: kept only as its hashes, as conf_load() does */
		r = conf_password_take(next, err, errlen);
		if (r < 0)
			goto done;
	}
	r = conf_check(next, err, errlen);
	if (r < 0)
		goto done;
	memcpy(c, next, sizeof(*c));
	err[0] = '\0';
done:
	explicit_bzero(next, sizeof(*next));
	free(next);
	return r;
}

int conf_keep_restart(struct pxed_conf *next, const struct pxed_conf *cur,
		      void (*changed)(void *ctx, const char *label), void *ctx)
{
	int n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(conf_table); i++) {
		const struct conf_item *it = &conf_table[i];
		if (!it->restart)
			continue;
		if (memcmp((char *)next + it->off, (const char *)cur + it->off, it->size) != 0) {
			if (changed)
				changed(ctx, it->label ? it->label : it->name);
			memcpy((char *)next + it->off, (const char *)cur + it->off, it->size);
			n++;
		}
	}
	return n;
}
