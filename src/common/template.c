#include "common/template.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The render in one pass over the template:
 *  1. copy literal text up to the next '$';
 *  2. "$${" -> "${"; "${" -> read a name, an optional ":-default", '}';
 *     any other '$' is literal;
 *  3. look the name up (first match), else the default, else fail;
 *  4. write the value through the kind's escaping, or fail.
 * The output is bounded by outlen and cleared on any failure. */

struct sink {
	char *buf;
	size_t len, pos; /* pos < len always: room for the NUL */
	bool full;
};

static void put(struct sink *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n >= o->len - o->pos) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
}

static void put_c(struct sink *o, char c)
{
	put(o, &c, 1);
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

bool template_name_valid(const char *s, size_t n)
{
	if (!s || n == 0 || n > TEMPLATE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i], i == 0))
			return false;
	return true;
}

/* The characters a command-line value may hold (template.h). */
static bool cmdline_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._:/,=+@%~?![]", c));
}

/* Write v[0..n) escaped for kind; false when the kind cannot hold it. */
static bool put_value(struct sink *o, enum template_kind kind, const char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	switch (kind) {
	case TEMPLATE_CMDLINE:
		for (size_t i = 0; i < n; i++)
			if (!cmdline_char((unsigned char)v[i]))
				return false;
		put(o, v, n);
		return true;
	case TEMPLATE_LINE:
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				return false;
		put(o, v, n);
		return true;
	case TEMPLATE_SHELL:
		/* Inside single quotes nothing is special but the quote
		 * itself (POSIX XCU 2.2.2): close, escaped quote, reopen. */
		put_c(o, '\'');
		for (size_t i = 0; i < n; i++) {
			if (v[i] == '\'')
				put(o, "'\\''", 4);
			else
				put_c(o, v[i]);
		}
		put_c(o, '\'');
		return true;
	case TEMPLATE_YAML:
		/* YAML 1.2 section 5.7 escapes; bytes >= 0x80 are UTF-8 text
		 * and pass as they are (a double-quoted scalar may hold any
		 * printable character). */
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)v[i];
			if (c == '\\' || c == '"') {
				put_c(o, '\\');
				put_c(o, (char)c);
			} else if (c == '\n') {
				put(o, "\\n", 2);
			} else if (c == '\t') {
				put(o, "\\t", 2);
			} else if (c == '\r') {
				put(o, "\\r", 2);
			} else if (c < 0x20 || c == 0x7f) {
				char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
				put(o, e, 4);
			} else {
				put_c(o, (char)c);
			}
		}
		return true;
	}
	return false;
}

static int failed(struct template_error *err, enum template_status st, size_t off,
		  const char *name, size_t name_len)
{
	if (err) {
		err->status = st;
		err->offset = off;
		err->name[0] = '\0';
		if (name && name_len <= TEMPLATE_NAME_MAX) {
			memcpy(err->name, name, name_len);
			err->name[name_len] = '\0';
		}
	}
	return st == TEMPLATE_NOSPACE ? -ENOBUFS : -EINVAL;
}

/* Parse "${name}" or "${name:-default}" at t[i] (t[i] == '$', t[i+1] ==
 * '{').  On success name and nlen, def (NULL if none) and dlen and next (the
 * index after '}'); false on a syntax error. */
static bool parse_ref(const char *t, size_t len, size_t i, const char **name, size_t *nlen,
		      const char **def, size_t *dlen, size_t *next)
{
	size_t j = i + 2, k;
	while (j < len && j - (i + 2) <= TEMPLATE_NAME_MAX && name_char(t[j], j == i + 2))
		j++;
	*name = t + i + 2;
	*nlen = j - (i + 2);
	if (*nlen == 0 || *nlen > TEMPLATE_NAME_MAX || j >= len)
		return false;
	*def = NULL;
	*dlen = 0;
	if (t[j] == ':') {
		if (j + 1 >= len || t[j + 1] != '-')
			return false;
		k = j + 2;
		/* the default is literal: no '$', '{', '}' (no nesting) and
		 * no NUL or newline (one line in any kind of file) */
		while (k < len && t[k] != '}' && t[k] != '$' && t[k] != '{' && t[k] != '\0' &&
		       t[k] != '\n')
			k++;
		if (k >= len || t[k] != '}')
			return false;
		*def = t + j + 2;
		*dlen = k - (j + 2);
		j = k;
	}
	if (t[j] != '}')
		return false;
	*next = j + 1;
	return true;
}

static const struct template_var *lookup(const struct template_var *vars, size_t nvars,
					 const char *name, size_t n)
{
	for (size_t i = 0; i < nvars; i++)
		if (vars[i].name && strlen(vars[i].name) == n && !memcmp(vars[i].name, name, n) &&
		    vars[i].value)
			return &vars[i];
	return NULL;
}

enum mode { RENDER, CHECK, SKELETON };

static int render(const char *t, size_t len, enum template_kind kind,
		  const struct template_var *vars, size_t nvars, enum mode mode, struct sink *o,
		  struct template_error *err)
{
	size_t i = 0;

	if (err) {
		err->status = TEMPLATE_OK;
		err->offset = 0;
		err->name[0] = '\0';
	}
	if (!t && len)
		return failed(err, TEMPLATE_SYNTAX, 0, NULL, 0);
	while (i < len) {
		const char *d = memchr(t + i, '$', len - i);
		size_t lit = d ? (size_t)(d - (t + i)) : len - i;
		const char *name, *def;
		size_t nlen, dlen, next;
		const struct template_var *v;

		put(o, t + i, lit);
		i += lit;
		if (i >= len)
			break;
		/* t[i] == '$' */
		if (i + 2 < len && t[i + 1] == '$' && t[i + 2] == '{') {
			put(o, "${", 2);
			i += 3;
			continue;
		}
		if (i + 1 >= len || t[i + 1] != '{') {
			put_c(o, '$');
			i++;
			continue;
		}
		if (!parse_ref(t, len, i, &name, &nlen, &def, &dlen, &next))
			return failed(err, TEMPLATE_SYNTAX, i, NULL, 0);
		if (mode == RENDER) {
			v = lookup(vars, nvars, name, nlen);
			if (v) {
				if (!put_value(o, kind, v->value, strlen(v->value)))
					return failed(err, TEMPLATE_UNSAFE, i, name, nlen);
			} else if (def) {
				if (!put_value(o, kind, def, dlen))
					return failed(err, TEMPLATE_UNSAFE, i, name, nlen);
			} else {
				return failed(err, TEMPLATE_UNDEFINED, i, name, nlen);
			}
		}
		i = next;
	}
	if (o->full)
		return failed(err, TEMPLATE_NOSPACE, len, NULL, 0);
	return 0;
}

int template_render(const char *tmpl, size_t len, enum template_kind kind,
		    const struct template_var *vars, size_t nvars, char *out, size_t outlen,
		    size_t *out_len, struct template_error *err)
{
	struct sink o = { .buf = out, .len = outlen };
	int r;

	if (out_len)
		*out_len = 0;
	if (!out || outlen == 0)
		return failed(err, TEMPLATE_NOSPACE, 0, NULL, 0);
	out[0] = '\0';
	r = render(tmpl, len, kind, vars, nvars, RENDER, &o, err);
	if (r < 0) {
		out[0] = '\0'; /* never a half-rendered text */
		return r;
	}
	out[o.pos] = '\0';
	if (out_len)
		*out_len = o.pos;
	return 0;
}

int template_check(const char *tmpl, size_t len, struct template_error *err)
{
	char dummy[1];
	/* a sink that is always full: nothing is written, only parsed */
	struct sink o = { .buf = dummy, .len = 1, .full = true };
	int r = render(tmpl, len, TEMPLATE_LINE, NULL, 0, CHECK, &o, err);
	if (r == -ENOBUFS) {
		if (err)
			err->status = TEMPLATE_OK;
		return 0;
	}
	return r;
}

int template_skeleton(const char *tmpl, size_t len, char *out, size_t outlen,
		      struct template_error *err)
{
	struct sink o = { .buf = out, .len = outlen };
	int r;

	if (!out || outlen == 0)
		return failed(err, TEMPLATE_NOSPACE, 0, NULL, 0);
	r = render(tmpl, len, TEMPLATE_LINE, NULL, 0, SKELETON, &o, err);
	if (r < 0) {
		out[0] = '\0';
		return r;
	}
	out[o.pos] = '\0';
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

enum template_kind template_kind_for_file(const char *name)
{
	static const char *const yaml_names[] = { "user-data", "meta-data", "vendor-data",
						   "network-config" };
	const char *base;
	if (!name)
		return TEMPLATE_LINE;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (size_t i = 0; i < sizeof(yaml_names) / sizeof(yaml_names[0]); i++)
		if (!strcmp(base, yaml_names[i]))
			return TEMPLATE_YAML;
	if (ends_with(base, ".yaml") || ends_with(base, ".yml"))
		return TEMPLATE_YAML;
	if (ends_with(base, ".sh"))
		return TEMPLATE_SHELL;
	return TEMPLATE_LINE;
}

const char *template_kind_name(enum template_kind k)
{
	switch (k) {
	case TEMPLATE_CMDLINE:
		return "cmdline";
	case TEMPLATE_YAML:
		return "yaml";
	case TEMPLATE_SHELL:
		return "shell";
	case TEMPLATE_LINE:
		return "line";
	}
	return "?";
}

void template_error_format(const struct template_error *err, char *buf, size_t len)
{
	switch (err->status) {
	case TEMPLATE_OK:
		snprintf(buf, len, "no error");
		break;
	case TEMPLATE_SYNTAX:
		snprintf(buf, len, "bad ${...} at offset %zu (want ${name} or ${name:-default})",
			 err->offset);
		break;
	case TEMPLATE_UNDEFINED:
		snprintf(buf, len, "undefined variable '%s' at offset %zu", err->name, err->offset);
		break;
	case TEMPLATE_UNSAFE:
		snprintf(buf, len, "variable '%s' at offset %zu has a value this file kind cannot hold",
			 err->name, err->offset);
		break;
	case TEMPLATE_NOSPACE:
		snprintf(buf, len, "rendered text is too long");
		break;
	}
}
