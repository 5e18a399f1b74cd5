#include "http/http_parse.h"

#include "common/template.h"

#include <stdio.h>

#include "common/util.h"
#include "common/vocab.h"

#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read 1+ decimal digits at *p, saturating at UINT64_MAX; false if none. */
static bool read_pos(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (!is_digit(*s))
		return false;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

enum spec_result { SPEC_BAD, SPEC_UNSAT, SPEC_OK };

/* One byte-range-spec or suffix-range (RFC 9110 §14.1.1) at *p. */
static enum spec_result parse_spec(const char **p, uint64_t size, uint64_t *start, uint64_t *end)
{
	const char *s = *p;
	uint64_t first, last;
	if (*s == '-') { /* suffix-range = "-" suffix-length */
		s++;
		if (!read_pos(&s, &last))
			return SPEC_BAD;
		*p = s;
		if (last == 0 || size == 0)
			return SPEC_UNSAT;
		*start = last >= size ? 0 : size - last;
		*end = size - 1;
		return SPEC_OK;
	}
	if (!read_pos(&s, &first) || *s != '-')
		return SPEC_BAD;
	s++;
	if (is_digit(*s)) {
		if (!read_pos(&s, &last))
			return SPEC_BAD;
		/* §14.1.1: invalid if last-pos is less than first-pos. */
		if (last < first)
			return SPEC_BAD;
	} else {
		last = UINT64_MAX;
	}
	*p = s;
	if (first >= size)
		return SPEC_UNSAT;
	*start = first;
	*end = last >= size ? size - 1 : last;
	return SPEC_OK;
}

int http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *end)
{
	const char *s;
	unsigned n_ok = 0, n_unsat = 0, n = 0;
	uint64_t a = 0, b = 0;

	if (!hdr)
		return HTTP_RANGE_IGNORE;
	s = skip_ows(hdr);
	/* Range units are case-insensitive (§14.1). */
	if (strncasecmp(s, "bytes=", 6) != 0)
		return HTTP_RANGE_IGNORE;
	s += 6;
	for (;;) {
		uint64_t x, y;
		s = skip_ows(s);
		/* §5.6.1: a list may contain empty elements; tolerate ", ,". */
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\0')
			break;
		switch (parse_spec(&s, size, &x, &y)) {
		case SPEC_BAD:
			return HTTP_RANGE_IGNORE;
		case SPEC_UNSAT:
			n_unsat++;
			break;
		case SPEC_OK:
			if (n_ok++ == 0) {
				a = x;
				b = y;
			}
			break;
		}
		n++;
		/* A client does not need more; refuse to walk an endless list. */
		if (n > 64)
			return HTTP_RANGE_IGNORE;
		s = skip_ows(s);
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return HTTP_RANGE_IGNORE;
	}
	if (n == 0)
		return HTTP_RANGE_IGNORE;
	if (n_ok == 0)
		return HTTP_RANGE_UNSATISFIABLE;
	if (n_ok > 1 || n_unsat > 0)
		return HTTP_RANGE_IGNORE; /* several ranges: whole file (§14.2) */
	*start = a;
	*end = b;
	return HTTP_RANGE_PARTIAL;
}

bool http_cmdline_valid(const char *s)
{
	size_t n;
	if (!s)
		return false;
	n = strnlen(s, 512);
	if (n > 511)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || strchr("$\"'\\|&#{}`", c))
			return false;
		/* iPXE ends a command at a ';' token of its own; one inside an
		 * argument (Ubuntu's ds=nocloud-net;s=URL) is plain text.  So a
		 * ';' needs a non-space character on both sides. */
		if (c == ';' && (i == 0 || i + 1 == n || s[i - 1] == ' ' || s[i + 1] == ' '))
			return false;
	}
	return true;
}

bool http_cmdline_template_valid(const char *s)
{
	char skel[512];
	size_t n = s ? strnlen(s, 512) : 0;
	if (!s || n > 511)
		return false;
	return template_skeleton(s, n, skel, sizeof(skel), NULL) == 0 && http_cmdline_valid(skel);
}

/* [s, e) with spaces and tabs trimmed off both ends. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

int http_csv_device_parse(const char *line, size_t len, struct http_csv_device *out, char *why,
			  size_t whylen)
{
	const char *f[3], *fe[3];
	const char *p = line, *end = line + len;
	char buf[80];
	size_t nf = 0, n;

	memset(out, 0, sizeof(*out));
	if (memchr(line, '\0', len)) {
		snprintf(why, whylen, "contains a NUL byte");
		return -EINVAL;
	}
	{
		const char *s = line, *e = end;
		trim(&s, &e);
		if (s == e || *s == '#')
			return 1;
	}
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (nf == 3) {
			snprintf(why, whylen, "more than 3 fields (name,mac,guid)");
			return -EINVAL;
		}
		f[nf] = p;
		fe[nf] = c ? c : end;
		trim(&f[nf], &fe[nf]);
		nf++;
		if (!c)
			break;
		p = c + 1;
	}
	if (nf < 2) {
		snprintf(why, whylen, "expected name,mac[,guid]");
		return -EINVAL;
	}
	n = (size_t)(fe[0] - f[0]);
	if (n == 0 || n > HTTP_NAME_MAX) {
		snprintf(why, whylen, "name must be 1 to %d characters of A-Z a-z 0-9 . _ -",
			 HTTP_NAME_MAX);
		return -EINVAL;
	}
	memcpy(out->name, f[0], n);
	out->name[n] = '\0';
	if (!vocab_name_valid(out->name)) {
		snprintf(why, whylen, "name must be 1 to %d characters of A-Z a-z 0-9 . _ -",
			 HTTP_NAME_MAX);
		return -EINVAL;
	}
	n = (size_t)(fe[1] - f[1]);
	if (n >= sizeof(buf) || (memcpy(buf, f[1], n), buf[n] = '\0', mac_parse(buf, out->mac) < 0)) {
		snprintf(why, whylen, "mac is not a MAC address (like 52:54:00:12:34:56)");
		return -EINVAL;
	}
	if (nf == 3 && fe[2] > f[2]) {
		n = (size_t)(fe[2] - f[2]);
		if (n >= sizeof(buf) ||
		    (memcpy(buf, f[2], n), buf[n] = '\0', guid_parse(buf, out->guid) < 0)) {
			snprintf(why, whylen, "guid is not an SMBIOS GUID");
			return -EINVAL;
		}
		out->has_guid = true;
	}
	return 0;
}
