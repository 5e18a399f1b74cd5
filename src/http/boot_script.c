#include "http/boot_script.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "decide/decide.h"
#include "http/http_parse.h"
#include "http/script_out.h"

/* How a script leaves for the local disk.  iPXE hands its exit status to
 * the firmware as the boot option's result: EDK2's boot manager takes a
 * boot option that returns success as done and opens its setup menu
 * (UiApp), where the machine stays; an error sends it on to the next boot
 * option, the disk.  SeaBIOS goes on to the next boot device either way.
 * Hence always a non-zero status. */
#define EXIT_LOCAL "exit 1"

/* Free text for echo/prompt lines: keep what iPXE prints literally.  Space
 * is safe because the separators it would delimit (`||`, `&&`, `;`) are
 * themselves dropped. */
void boot_script_safe_text(char *dst, size_t dstlen, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 1 < dstlen; i++) {
		char c = src[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c && strchr(" .,:_-/()=+@!?", c));
		if (c == '\'' || c == '"')
			continue; /* quoted names read fine without their quotes */
		dst[j++] = ok ? c : c == ';' ? ',' : '_';
	}
	dst[j] = '\0';
}

/* base_url: "http://" then host[:port] chars only (RFC 3986 reg-name,
 * IPv4, bracketed IPv6), nothing iPXE could expand or split on. */
static bool base_url_valid(const char *u)
{
	size_t n;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	u = strchr(u, ':') + 3;
	n = strnlen(u, 300);
	if (n == 0 || n > 262)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(".-:[]", c)))
			return false;
	}
	return true;
}

/* A content path, percent-encoded for a URL: everything but RFC 3986
 * unreserved characters and '/' becomes %XX. */
static void out_path(struct out *o, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
			out_printf(o, "%c", c);
		else
			out_printf(o, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

static void out_file_url(struct out *o, const char *base_url, const char *path)
{
	out_printf(o, "%s/files/", base_url);
	out_path(o, path);
}

/* A URL pxed built itself (report, password chain): nothing iPXE could
 * expand or split on. */
bool boot_script_url_valid(const char *u)
{
	size_t n = strnlen(u, 1024);
	if (n == 0 || n >= 1024 || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(":/?&=._-[]", c)))
			return false;
	}
	return true;
}

/* The lines that start the image: kernel+initrd+boot or chain NBP. */
static void out_image(struct out *o, const struct decision *d, const char *base_url,
		      const struct boot_script_opts *opts)
{
	if (d->nbp[0]) {
		out_printf(o, "chain ");
		out_file_url(o, base_url, d->nbp);
		out_printf(o, "\n");
		return;
	}
	out_printf(o, "kernel ");
	out_file_url(o, base_url, d->kernel);
	/* iPXE passes the initrd to a UEFI kernel only when the command line
	 * names it (EFI stub "initrd=" loading, Debian's iPXE 1.0.0); iPXE
	 * names an image after the last part of its URL.  Harmless on BIOS. */
	if (d->initrd[0] && !strstr(d->cmdline, "initrd=")) {
		const char *slash = strrchr(d->initrd, '/');
		out_printf(o, " initrd=%s", slash ? slash + 1 : d->initrd);
	}
	if (d->cmdline[0])
		out_printf(o, " %s", d->cmdline);
	if (opts->report_url)
		out_printf(o, " pxed.report=%s", opts->report_url);
	out_printf(o, "\n");
	if (d->initrd[0]) {
		out_printf(o, "initrd ");
		out_file_url(o, base_url, d->initrd);
		out_printf(o, "\n");
	}
	out_printf(o, "boot\n");
}

int boot_script_check(const struct decision *d)
{
	if (!vocab_name_valid(d->deployment_name) || !vocab_name_valid(d->image_name))
		return -EINVAL;
	if (d->nbp[0])
		return vocab_path_valid(d->nbp) ? 0 : -EINVAL;
	if (!vocab_path_valid(d->kernel))
		return -EINVAL;
	if (d->initrd[0] && !vocab_path_valid(d->initrd))
		return -EINVAL;
	if (!http_cmdline_valid(d->cmdline))
		return -EINVAL;
	return 0;
}

/* Ask for PXEPassword, then come back with it.  `login` masks the
 * password; its user name is not used.  Esc (login fails) or a failed
 * chain boots the local disk. */
static void out_password(struct out *o, const struct decision *d, const char *url)
{
	out_printf(o, "echo pxed: deployment %s needs the PXE password (any user name)\n",
		   d->deployment_name);
	out_printf(o, "login || goto local\n");
	out_printf(o, "chain %s&password=${password:uristring} || goto local\n", url);
	out_printf(o, ":local\necho pxed: booting from local disk\n" EXIT_LOCAL "\n");
}

int boot_script_build(const struct decision *d, const char *base_url, char *buf, size_t len)
{
	static const struct boot_script_opts none = { 0 };
	return boot_script_build_opts(d, base_url, &none, buf, len);
}

int boot_script_build_opts(const struct decision *d, const char *base_url,
			   const struct boot_script_opts *opts, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };
	char notice[128];
	char reason[sizeof(d->reason)];
	int r;

	if (!buf || len == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	if (!d || !base_url || !base_url_valid(base_url))
		return -EINVAL;
	if ((opts->report_url && !boot_script_url_valid(opts->report_url)) ||
	    (opts->password_url && !boot_script_url_valid(opts->password_url)) ||
	    (opts->choice_url && !boot_script_url_valid(opts->choice_url)))
		return -EINVAL;
	boot_script_safe_text(reason, sizeof(reason), d->reason);
	out_printf(&o, "#!ipxe\n");
	if (opts->notice) {
		boot_script_safe_text(notice, sizeof(notice), opts->notice);
		out_printf(&o, "echo pxed: %s\n", notice);
	}
	switch (d->outcome) {
	case DECISION_BOOT:
		r = boot_script_check(d);
		if (r < 0) {
			buf[0] = '\0'; /* never leave a partial script behind */
			return r;
		}
		if (d->required || opts->confirmed) {
			if (opts->password_url) {
				out_password(&o, d, opts->password_url);
				break;
			}
			out_printf(&o, "echo pxed: starting %s deployment %s (image %s)\n",
				   d->required ? "required" : "available", d->deployment_name,
				   d->image_name);
			out_image(&o, d, base_url, opts);
			break;
		}
		/* Available: ask first; the default is the local disk
		 * (docs/pxed.8.md, DECISIONS).  0x0d is Enter.  Either way the answer goes
		 * back to pxed, which records it and answers with the image
		 * (or the password prompt) or with `exit`; if pxed cannot be
		 * reached, the local disk. */
		if (!opts->choice_url) {
			buf[0] = '\0';
			return -EINVAL;
		}
		out_printf(&o, "echo pxed: deployment %s (image %s) is available\n",
			   d->deployment_name, d->image_name);
		out_printf(&o,
			   "prompt --key 0x0d --timeout %d Press Enter within %d s to start "
			   "deployment %s, or wait to boot from local disk... && goto deploy || "
			   "goto local\n",
			   BOOT_SCRIPT_PROMPT_MS, BOOT_SCRIPT_PROMPT_MS / 1000, d->deployment_name);
		out_printf(&o, ":deploy\nchain %s&choice=deploy || goto local\n", opts->choice_url);
		out_printf(&o, ":local\necho pxed: booting from local disk\n");
		out_printf(&o, "chain %s&choice=local || " EXIT_LOCAL "\n" EXIT_LOCAL "\n",
			   opts->choice_url);
		break;
	case DECISION_LOCAL:
		out_printf(&o, "echo pxed: booting from local disk (%s)\n" EXIT_LOCAL "\n", reason);
		break;
	case DECISION_IGNORE:
		/* The decision engine's reasons start with "not serviced". */
		if (strncmp(reason, "not serviced", 12) == 0)
			out_printf(&o, "echo pxed: %s\n" EXIT_LOCAL "\n", reason);
		else
			out_printf(&o, "echo pxed: not serviced (%s)\n" EXIT_LOCAL "\n", reason);
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
