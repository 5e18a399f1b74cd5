#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static enum log_level log_level_current = LOG_LVL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Lines held by log_hold() on this thread. */
#define LOG_HOLD_MAX 65536
static __thread char hold_buf[LOG_HOLD_MAX];
static __thread size_t hold_len;
static __thread unsigned hold_depth;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* sd-daemon(3) priority prefixes: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const char *const journal_prio[] = { "<3>", "<4>", "<6>", "<7>" };

/* Is stderr the journal?  systemd sets JOURNAL_STREAM to the device and
 * inode of the stream it connected (systemd.exec(5)); comparing them with
 * stderr's tells a journal stream from one the daemon's own child
 * redirected elsewhere.  Asked once: stderr does not change under us. */
static bool stderr_is_journal(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *env = getenv("JOURNAL_STREAM");
		unsigned long long dev, ino;
		struct stat st;
		v = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* Set on the loop (SIGHUP, the settings API), read by every thread. */
void log_set_level(enum log_level lvl) { __atomic_store_n(&log_level_current, lvl, __ATOMIC_RELAXED); }
enum log_level log_get_level(void) { return __atomic_load_n(&log_level_current, __ATOMIC_RELAXED); }

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_flush_held(void)
{
	if (!hold_len)
		return;
	pthread_mutex_lock(&log_lock);
	fwrite(hold_buf, 1, hold_len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	hold_len = 0;
}

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
	if (lvl > log_get_level())
		return;
	char line[2048];
	size_t len;
	struct timespec ts;
	struct tm tm;
	int n;
	if (stderr_is_journal()) {
		/* The journal stamps each line itself and takes its priority
		 * from the prefix, so neither is repeated in the text. */
		n = snprintf(line, sizeof(line), "%s%s %s: ", journal_prio[lvl], level_names[lvl],
			     module);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl], module);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	len = strlen(line);
	line[len++] = '\n'; /* room kept by the - 1 above */
	if (hold_depth) {
		if (hold_len + len > LOG_HOLD_MAX)
			log_flush_held();
		memcpy(hold_buf + hold_len, line, len);
		hold_len += len;
		return;
	}
	/* One write per line so lines from threads never interleave. */
	pthread_mutex_lock(&log_lock);
	fwrite(line, 1, len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void log_hold(void)
{
	hold_depth++;
}

void log_release(void)
{
	if (hold_depth && --hold_depth == 0)
		log_flush_held();
}

void log_escape(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t o = 0;
	if (dstlen == 0)
		return;
	for (size_t i = 0; i < srclen; i++) {
		char tmp[5];
		size_t k;
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
			tmp[0] = (char)s[i];
			k = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			k = 4;
		}
		if (o + k + 1 > dstlen) {
			/* Mark the cut so a reader knows the value was longer. */
			if (dstlen >= 4) {
				size_t p = o < dstlen - 4 ? o : dstlen - 4;
				memcpy(dst + p, "...", 3);
				o = p + 3;
			}
			break;
		}
		memcpy(dst + o, tmp, k);
		o += k;
	}
	dst[o] = '\0';
}
