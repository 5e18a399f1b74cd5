#include "http/boot_script.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "decide/decide.h"
#include "http/http_parse.h"

struct out {
	char *buf;
	size_t len, pos;
	bool overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->overflow = true;
		return;
	}
	o->pos += (size_t)n;
}

/* Free text for echo/prompt lines: keep what iPXE prints literally.  Space
 * is safe because the separators it would delimit (`||`, `&&`, `;`) are
 * themselves dropped. */
static void safe_text(char *dst, size_t dstlen, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 1 < dstlen; i++) {
		char c = src[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c && strchr(" .,:_-/()=+@!?", c));
		dst[j++] = ok ? c : '_';
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

/* The lines that start the image: kernel+initrd+boot or chain NBP. */
static void out_image(struct out *o, const struct decision *d, const char *base_url)
{
	if (d->nbp[0]) {
		out_printf(o, "chain ");
		out_file_url(o, base_url, d->nbp);
		out_printf(o, "\n");
		return;
	}
	out_printf(o, "kernel ");
	out_file_url(o, base_url, d->kernel);
	if (d->cmdline[0])
		out_printf(o, " %s", d->cmdline);
	out_printf(o, "\n");
	if (d->initrd[0]) {
		out_printf(o, "initrd ");
		out_file_url(o, base_url, d->initrd);
		out_printf(o, "\n");
	}
	out_printf(o, "boot\n");
}

static int check_boot(const struct decision *d)
{
	if (!http_name_valid(d->deployment_name) || !http_name_valid(d->image_name))
		return -EINVAL;
	if (d->nbp[0])
		return http_path_valid(d->nbp) ? 0 : -EINVAL;
	if (!http_path_valid(d->kernel))
		return -EINVAL;
	if (d->initrd[0] && !http_path_valid(d->initrd))
		return -EINVAL;
	if (!http_cmdline_valid(d->cmdline))
		return -EINVAL;
	return 0;
}

int boot_script_build(const struct decision *d, const char *base_url, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };
	char reason[sizeof(d->reason)];
	int r;

	if (!buf || len == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	if (!d || !base_url || !base_url_valid(base_url))
		return -EINVAL;
	safe_text(reason, sizeof(reason), d->reason);
	out_printf(&o, "#!ipxe\n");
	switch (d->outcome) {
	case DECISION_BOOT:
		r = check_boot(d);
		if (r < 0) {
			buf[0] = '\0'; /* never leave a partial script behind */
			return r;
		}
		if (d->required) {
			out_printf(&o, "echo pxed: starting required deployment %s (image %s)\n",
				   d->deployment_name, d->image_name);
			out_image(&o, d, base_url);
			break;
		}
		/* Available: ask first; the default is the local disk
		 * (PRODUCT.md).  0x0d is Enter. */
		out_printf(&o, "echo pxed: deployment %s (image %s) is available\n",
			   d->deployment_name, d->image_name);
		out_printf(&o,
			   "prompt --key 0x0d --timeout %d Press Enter within %d s to start "
			   "deployment %s, or wait to boot from local disk... && goto deploy || "
			   "goto local\n",
			   BOOT_SCRIPT_PROMPT_MS, BOOT_SCRIPT_PROMPT_MS / 1000, d->deployment_name);
		out_printf(&o, ":local\necho pxed: booting from local disk\nexit\n:deploy\n");
		out_image(&o, d, base_url);
		break;
	case DECISION_LOCAL:
		out_printf(&o, "echo pxed: booting from local disk (%s)\nexit\n", reason);
		break;
	case DECISION_IGNORE:
		out_printf(&o, "echo pxed: not serviced (%s)\nexit\n", reason);
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
