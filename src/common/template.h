/* template: per-machine text from a template and a set of variables.
 *
 * The whole language (docs/unattended.md):
 *   ${name}       the variable's value; undefined fails the render
 *   ${name:-text} the value, or text when the variable is undefined
 *                 (text is literal: no '$', '{' or '}' in it, no nesting)
 *   $${          a literal "${" (a shell script's own ${VAR})
 *   anything else is copied as it is, a '$' not followed by '{' too.
 * Names are 1-64 of A-Z a-z 0-9 _, not starting with a digit.  Nothing is
 * ever evaluated: a value is text, never read again as a template.
 *
 * Every value (and default) goes through the escaping of the place it
 * lands in, the template's kind:
 *   CMDLINE  a kernel command line inside an iPXE `kernel` line: a value
 *            may hold only A-Z a-z 0-9 and - . _ : / , = + @ % ~ ? ! [ ]
 *            (no space, quote, backslash, '$', '{', '}', '|', '&', ';',
 *            '#', control or non-ASCII byte): anything else is refused,
 *            so a value is always one kernel argument (or part of one)
 *            and iPXE finds no ${...} to expand and no || or && to obey.
 *   YAML     YAML double-quoted scalar content (YAML 1.2 section 7.3.1):
 *            \ and " are escaped, control characters become \n, \t, \r
 *            or \xNN; the template writes the quotes: key: "${name}".
 *   SHELL    a POSIX shell single-quoted word, quotes included:
 *            ${name} -> 'value' with each ' written '\'' (XCU 2.2.2).
 *   LINE     line-oriented files (preseed, kickstart, .cfg): a value with
 *            a newline or any other control character is refused, so it
 *            can never start a directive of its own.
 * template_kind_for_file() picks the kind of an answer file by its name.
 *
 * Pure: no allocation, no I/O, no globals; bounded by the lengths given. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define TEMPLATE_NAME_MAX 64

enum template_kind {
	TEMPLATE_CMDLINE = 0,
	TEMPLATE_YAML = 1,
	TEMPLATE_SHELL = 2,
	TEMPLATE_LINE = 3,
};

struct template_var {
	const char *name;
	const char *value;
	const char *source; /* where the value comes from ("device web01"); may be NULL */
};

/* Why a render failed, for the log and the event. */
enum template_status {
	TEMPLATE_OK = 0,
	TEMPLATE_SYNTAX,    /* "${" without a valid name and '}' */
	TEMPLATE_UNDEFINED, /* ${name} with no such variable and no default */
	TEMPLATE_UNSAFE,    /* a value the kind cannot hold safely */
	TEMPLATE_NOSPACE,   /* the output does not fit */
};

struct template_error {
	enum template_status status;
	size_t offset;                      /* in the template */
	char name[TEMPLATE_NAME_MAX + 1];   /* the variable, if any */
};

/* True when s[0..n) is a valid variable name. */
bool template_name_valid(const char *s, size_t n);

/* Render tmpl[0..len) into out (NUL-terminated, *out_len without the NUL).
 * Variables are looked up in vars[0..nvars) by name, first match wins.
 * Returns 0, -EINVAL (syntax, undefined, unsafe) or -ENOBUFS, with *err
 * saying which (err may be NULL).  On failure out holds "" -- never a
 * half-rendered text. */
int template_render(const char *tmpl, size_t len, enum template_kind kind,
		    const struct template_var *vars, size_t nvars, char *out, size_t outlen,
		    size_t *out_len, struct template_error *err);

/* Check a template's syntax only (no variables needed); same errors. */
int template_check(const char *tmpl, size_t len, struct template_error *err);

/* The template with every ${...} left out (and "$${" written "${"): what
 * must pass the place's own rules whatever the values.  An image command
 * line is checked this way when it is stored: a CMDLINE value only adds
 * characters that are safe anywhere and never a space, so if the skeleton
 * passes the iPXE script's check, so does every render.  Same errors. */
int template_skeleton(const char *tmpl, size_t len, char *out, size_t outlen,
		      struct template_error *err);

/* The kind of an answer file: *.yaml, *.yml and the cloud-init names
 * user-data, meta-data, vendor-data, network-config -> YAML; *.sh ->
 * SHELL; anything else (preseed .cfg/.seed, kickstart .ks, ...) -> LINE. */
enum template_kind template_kind_for_file(const char *name);
const char *template_kind_name(enum template_kind k);

/* One line for the log: "undefined variable 'x' at offset 12". */
void template_error_format(const struct template_error *err, char *buf, size_t len);
