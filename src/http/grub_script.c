/* grub_script: see grub_script.h. */
#include "http/grub_script.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "http/boot_script.h"
#include "http/script_out.h"

/* One GRUB word, single-quoted: GRUB's lexer takes everything up to the
 * next ' literally ($, ;, newline, \ included); a ' itself closes the
 * quote, is written escaped, and the quote reopens. */
static void out_quoted(struct out *o, const char *s)
{
	out_printf(o, "'");
	for (; *s; s++) {
		if (*s == '\'')
			out_printf(o, "'\\''");
		else
			out_printf(o, "%c", *s);
	}
	out_printf(o, "'");
}

/* A file on pxed's TFTP side: '(tftp,SERVER)/PATH', quoted. */
static void out_file(struct out *o, const char *server, const char *path)
{
	char word[300];
	snprintf(word, sizeof(word), "(tftp,%s)/%s", server, path);
	out_quoted(o, word);
}

static void out_echo(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_echo(struct out *o, const char *fmt, ...)
{
	char raw[512], safe[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	boot_script_safe_text(safe, sizeof(safe), raw);
	out_printf(o, "echo ");
	out_quoted(o, safe);
	out_printf(o, "\n");
}

static void out_image(struct out *o, const struct decision *d, const struct grub_script_opts *opts)
{
	char cmdline[sizeof(d->cmdline) + 1100];

	if (d->nbp[0]) {
		out_printf(o, "chainloader ");
		out_file(o, opts->server, d->nbp);
		out_printf(o, "\nboot\n");
	} else {
		snprintf(cmdline, sizeof(cmdline), "%s%s%s%s", d->cmdline,
			 opts->report_url && d->cmdline[0] ? " " : "",
			 opts->report_url ? "pxed.report=" : "",
			 opts->report_url ? opts->report_url : "");
		out_printf(o, "linux ");
		out_file(o, opts->server, d->kernel);
		/* One quoted GRUB word per kernel parameter: GRUB puts an
		 * argument that holds a space in double quotes on the kernel
		 * command line, where it would become one parameter. */
		for (char *save = NULL, *w = strtok_r(cmdline, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			out_printf(o, " ");
			out_quoted(o, w);
		}
		out_printf(o, "\n");
		if (d->initrd[0]) {
			out_printf(o, "initrd ");
			out_file(o, opts->server, d->initrd);
			out_printf(o, "\n");
		}
		out_printf(o, "boot\n");
	}
	/* Only reached when the image did not start (under Secure Boot: a
	 * kernel not signed by a key shim trusts, "bad shim signature"). */
	out_echo(o, "pxed: deployment %s did not start, see the messages above", d->deployment_name);
	out_printf(o, "sleep 10\nreboot\n");
}

static bool server_valid(const char *s)
{
	struct in_addr a;
	return s && inet_pton(AF_INET, s, &a) == 1;
}

static bool mac_valid(const char *s)
{
	uint8_t m[MAC_LEN];
	return s && strlen(s) == MAC_STR_LEN - 1 && mac_parse(s, m) == 0;
}

int grub_script_build(const struct decision *d, const struct grub_script_opts *opts, char *buf,
		      size_t len)
{
	struct out o = { .buf = buf, .len = len };
	char reason[sizeof(d->reason)];
	char file[64];

	if (!buf || len == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	if (!d || !opts || !server_valid(opts->server))
		return -EINVAL;
	if (opts->report_url && !boot_script_url_valid(opts->report_url))
		return -EINVAL;
	boot_script_safe_text(reason, sizeof(reason), d->reason);
	out_printf(&o, "# pxed: this machine's part of /grub/grub.cfg\nset pxed_ok=1\n");
	switch (d->outcome) {
	case DECISION_BOOT:
		if (boot_script_check(d) < 0) {
			buf[0] = '\0'; /* never leave a partial configuration behind */
			return -EINVAL;
		}
		if ((d->required && !opts->password_hash) || opts->confirmed) {
			out_echo(&o, "pxed: starting %s deployment %s (image %s)",
				 d->required ? "required" : "available", d->deployment_name,
				 d->image_name);
			out_image(&o, d, opts);
			break;
		}
		/* Available, or any deployment behind PXEPassword: a menu, the
		 * local disk first and the default after the timeout
		 * (docs/pxed.8.md, DECISIONS).  Each entry goes back to pxed,
		 * which records the choice; behind PXEPassword, GRUB lets only
		 * the superuser GRUB_SCRIPT_PW_USER with the password run the
		 * start entry (normal mode asks "Enter username:" and "Enter
		 * password:"), so pxed hands the deployment out only once the
		 * password was right.  Setting superusers also locks GRUB's
		 * entry editor and command line, from which the start file
		 * could be sourced by hand; the local entry stays open to
		 * everyone (--unrestricted), for the timeout too. */
		if (!mac_valid(opts->mac) ||
		    (opts->password_hash && !conf_grub_hash_valid(opts->password_hash))) {
			buf[0] = '\0';
			return -EINVAL;
		}
		if (opts->password_hash) {
			out_echo(&o, "pxed: %s deployment %s (image %s) needs the PXE password",
				 d->required ? "required" : "available", d->deployment_name,
				 d->image_name);
			out_printf(&o, "set superusers=%s\npassword_pbkdf2 %s ", GRUB_SCRIPT_PW_USER,
				   GRUB_SCRIPT_PW_USER);
			out_quoted(&o, opts->password_hash);
			out_printf(&o, "\n");
		} else {
			out_echo(&o, "pxed: deployment %s (image %s) is available",
				 d->deployment_name, d->image_name);
		}
		out_printf(&o, "set default=0\nset timeout=%d\n", BOOT_SCRIPT_PROMPT_MS / 1000);
		out_printf(&o, "menuentry 'Boot from local disk' %s{\n\tsource ",
			   opts->password_hash ? "--unrestricted " : "");
		snprintf(file, sizeof(file), "grub/local-%s.cfg", opts->mac);
		out_file(&o, opts->server, file);
		out_printf(&o, "\n}\nmenuentry ");
		{
			char title[200], safe[200];
			snprintf(title, sizeof(title), "Start %sdeployment %s (image %s)%s",
				 opts->password_hash && d->required ? "required " : "",
				 d->deployment_name, d->image_name,
				 opts->password_hash ? ": user " GRUB_SCRIPT_PW_USER
						       ", then the PXE password"
						     : "");
			boot_script_safe_text(safe, sizeof(safe), title);
			out_quoted(&o, safe);
		}
		if (opts->password_hash)
			out_printf(&o, " --users %s", GRUB_SCRIPT_PW_USER);
		out_printf(&o, " {\n\tsource ");
		snprintf(file, sizeof(file), "grub/deploy-%s.cfg", opts->mac);
		out_file(&o, opts->server, file);
		out_printf(&o, "\n}\n");
		break;
	case DECISION_LOCAL:
		out_echo(&o, "pxed: booting from local disk (%s)", reason);
		out_echo(&o, "pxed: restarting: the firmware's next network boot is sent to the disk");
		out_printf(&o, "sleep 3\nreboot\n");
		break;
	case DECISION_IGNORE:
		if (strncmp(reason, "not serviced", 12) == 0)
			out_echo(&o, "pxed: %s", reason);
		else
			out_echo(&o, "pxed: not serviced (%s)", reason);
		out_printf(&o, "sleep 3\nexit\n");
		break;
	default:
		buf[0] = '\0';
		return -EINVAL;
	}
	if (o.overflow) {
		buf[0] = '\0';
		return -ENOBUFS;
	}
	return (int)o.pos;
}

int grub_script_entry(char *buf, size_t len)
{
	/* $net_default_mac: the MAC of the interface GRUB booted from,
	 * lower-case with colons.  The machine's part either starts an image,
	 * restarts, leaves, or defines a menu and sets pxed_ok; without it
	 * (no answer from pxed) GRUB leaves rather than waiting at grub>. */
	int n = snprintf(buf, len,
			 "# pxed: the same for every machine; its own part follows\n"
			 "set pxed_ok=\n"
			 "source \"$prefix/mac-$net_default_mac.cfg\"\n"
			 "if [ \"$pxed_ok\" != 1 ]; then\n"
			 "\techo 'pxed: no answer for this machine, see the pxed log'\n"
			 "\tsleep 5\n"
			 "\texit\n"
			 "fi\n");
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return n;
}

int grub_cfg_name_parse(const char *name, enum grub_cfg_kind *kind, unsigned char mac[6])
{
	static const struct {
		const char *prefix;
		enum grub_cfg_kind kind;
	} kinds[] = {
		{ "grub/mac-", GRUB_CFG_MAC },
		{ "grub/deploy-", GRUB_CFG_DEPLOY },
		{ "grub/local-", GRUB_CFG_LOCAL },
	};
	char m[MAC_STR_LEN];

	if (name[0] == '/')
		name++;
	if (strcmp(name, "grub/grub.cfg") == 0) {
		*kind = GRUB_CFG_ENTRY;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t pl = strlen(kinds[i].prefix);
		if (strncmp(name, kinds[i].prefix, pl) != 0)
			continue;
		name += pl;
		if (strlen(name) != MAC_STR_LEN - 1 + 4 || strcmp(name + MAC_STR_LEN - 1, ".cfg"))
			return -ENOENT;
		memcpy(m, name, MAC_STR_LEN - 1);
		m[MAC_STR_LEN - 1] = '\0';
		if (mac_parse(m, mac) < 0)
			return -ENOENT;
		*kind = kinds[i].kind;
		return 0;
	}
	return -ENOENT;
}
