/* log: the one place that formats pxed's log lines.
 *
 * Lines go to stderr (journald/syslog pick them up from there), one event
 * per line: "2026-11-26T14:43:32.123Z LEVEL module: text".  Per-client
 * decision lines are prefixed "MAC, GUID: " as docs/pxed.8.md describes, so an admin
 * can grep a machine's whole story.
 *
 * When stderr is the journal (JOURNAL_STREAM names it, as systemd sets it
 * for a service), a line is "<N>LEVEL module: text" instead: N is the
 * sd-daemon(3) priority (3 error, 4 warn, 6 info, 7 debug), and the
 * journal's own timestamp is the only one. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info", "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Hold this thread's lines until log_release(), then write them with one
 * write(2): for a burst of per-client lines (a DHCP storm answers
 * thousands a second, and stderr is unbuffered: a write per line).  Every
 * line is still written, in order, with the time it was made; a crash
 * loses at most the lines of the burst being handled.  Nests. */
void log_hold(void);
void log_release(void);

#define log_error(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)

/* Copy untrusted bytes into dst as printable text: bytes outside 0x20..0x7e,
 * and backslash, become \xNN (like OpenBSD strnvis).  Always NUL-terminates;
 * truncates with "..." when dst is too small.  Use for every client-supplied
 * string before it reaches a log line. */
void log_escape(char *dst, size_t dstlen, const void *src, size_t srclen);
