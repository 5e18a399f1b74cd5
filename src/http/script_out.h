/* script_out: a bounded text buffer for the boot script builders
 * (boot_script.c for iPXE, grub_script.c for GRUB).  A write that does
 * not fit sets overflow and writes nothing more: the builder then refuses
 * the whole script (-ENOBUFS) rather than hand out a truncated one. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct out {
	char *buf;
	size_t len, pos;
	bool overflow;
};

static inline void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void out_printf(struct out *o, const char *fmt, ...)
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
