#include "http/http_parse.h"

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

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '_' || c == '-';
}

bool http_name_valid(const char *s)
{
	size_t n;
	if (!s)
		return false;
	n = strnlen(s, HTTP_NAME_MAX + 1);
	if (n == 0 || n > HTTP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

bool http_path_valid(const char *s)
{
	size_t n, seg = 0;
	if (!s)
		return false;
	n = strnlen(s, 256);
	if (n == 0 || n > 255 || s[0] == '/')
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '/' || c == '\0') {
			const char *segp = s + i - seg;
			if (seg == 0)
				return false; /* "a//b" or trailing '/' */
			if ((seg == 1 && segp[0] == '.') ||
			    (seg == 2 && segp[0] == '.' && segp[1] == '.'))
				return false;
			seg = 0;
			continue;
		}
		if (!name_char(c) && c != '+')
			return false;
		seg++;
	}
	return true;
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
		if (c < 0x20 || c > 0x7e || strchr("$\"'\\|&;#{}`", c))
			return false;
	}
	return true;
}
