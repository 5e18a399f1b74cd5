#include "http/http_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

bool http_token_equal(const char *presented, const char *real)
{
	size_t n = strlen(real), m;
	unsigned char diff;

	if (!presented)
		return false;
	m = strnlen(presented, n + 1);
	diff = m != n;
	/* Walk the real token's length whatever was presented; reading
	 * presented[i] stops at its NUL (a shorter one compares with 0). */
	for (size_t i = 0, j = 0; i < n; i++) {
		unsigned char p = (unsigned char)presented[j];
		diff |= (unsigned char)(p ^ (unsigned char)real[i]);
		if (p)
			j++;
	}
	return diff == 0 && n > 0;
}

const char *http_bearer_token(const char *a)
{
	if (!a || strncasecmp(a, "Bearer", 6) != 0 || a[6] != ' ')
		return NULL;
	a += 6;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

int http_token_random(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[64];
	if (nbytes > sizeof(b))
		return -EINVAL;
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	explicit_bzero(b, sizeof(b));
	return 0;
}

static int token_read(int fd, char out[HTTP_TOKEN_LEN + 1])
{
	char buf[HTTP_TOKEN_LEN + 4];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	size_t len;
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len < 16 || len > HTTP_TOKEN_LEN)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			return -EINVAL;
	memcpy(out, buf, len + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int http_token_load(const char *path, char out[HTTP_TOKEN_LEN + 1], bool *created)
{
	struct stat st;
	int fd, r;

	*created = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		/* A token others can read is a token others have. */
		if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
			close(fd);
			return -EPERM;
		}
		r = token_read(fd, out);
		close(fd);
		return r;
	}
	if (errno != ENOENT)
		return -errno;
	r = http_token_random(out, HTTP_TOKEN_LEN / 2);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%s\n", out) != HTTP_TOKEN_LEN + 1 || fsync(fd) < 0) {
		r = -EIO;
		close(fd);
		unlink(path);
		return r;
	}
	close(fd);
	*created = true;
	return 0;
}

/* ---- PXEPassword attempts ------------------------------------------------ */

void http_pw_key_mac(uint8_t key[HTTP_PW_KEY_LEN], const uint8_t mac[MAC_LEN])
{
	memset(key, 0, HTTP_PW_KEY_LEN);
	key[0] = 'M';
	memcpy(key + 1, mac, MAC_LEN);
}

int http_pw_key_addr(uint8_t key[HTTP_PW_KEY_LEN], const struct sockaddr *sa)
{
	memset(key, 0, HTTP_PW_KEY_LEN);
	if (sa && sa->sa_family == AF_INET) {
		key[0] = '4';
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = '4';
			memcpy(key + 1, &a->s6_addr[12], 4);
		} else {
			key[0] = '6';
			memcpy(key + 1, a, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

static struct http_pw_slot *pw_find(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN])
{
	for (size_t i = 0; i < HTTP_PW_SLOTS; i++)
		if (l->slot[i].used && !memcmp(l->slot[i].key, key, HTTP_PW_KEY_LEN))
			return &l->slot[i];
	return NULL;
}

uint64_t http_pw_locked(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN],
			uint64_t now_ms)
{
	struct http_pw_slot *s = pw_find(l, key);
	if (!s || !s->locked_until_ms)
		return 0;
	if (now_ms >= s->locked_until_ms) {
		s->locked_until_ms = 0;
		s->failures = 0;
		return 0;
	}
	return s->locked_until_ms - now_ms;
}

bool http_pw_failed(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN],
		    uint64_t now_ms)
{
	struct http_pw_slot *s = pw_find(l, key);
	unsigned max = l->max_failures ? l->max_failures : HTTP_PW_MAX_FAILURES;
	l->failures_total++;
	if (!s) {
		/* a free slot, else the one whose last failure is oldest; a
		 * locked slot is reused only when every slot is locked */
		struct http_pw_slot *old = NULL;
		for (size_t i = 0; i < HTTP_PW_SLOTS && !s; i++) {
			struct http_pw_slot *c = &l->slot[i];
			if (!c->used)
				s = c;
			else if (!old || (!c->locked_until_ms && old->locked_until_ms) ||
				 (!!c->locked_until_ms == !!old->locked_until_ms && c->last_ms < old->last_ms))
				old = c;
		}
		if (!s)
			s = old;
		memset(s, 0, sizeof(*s));
		s->used = true;
		memcpy(s->key, key, HTTP_PW_KEY_LEN);
	}
	s->last_ms = now_ms;
	if (++s->failures >= max && !s->locked_until_ms) {
		s->locked_until_ms = now_ms + HTTP_PW_LOCKOUT_MS;
		l->lockouts_total++;
		return true;
	}
	return false;
}

void http_pw_succeeded(struct http_pw_limiter *l, const uint8_t key[HTTP_PW_KEY_LEN])
{
	struct http_pw_slot *s = pw_find(l, key);
	if (s)
		memset(s, 0, sizeof(*s));
}

/* ---- console sessions ---------------------------------------------------- */

int http_session_new(struct http_sessions *t, bool admin, uint64_t now_ms, uint64_t ttl_ms,
		     struct http_session **out)
{
	struct http_session *s = NULL, *lru = NULL;
	int r;

	for (size_t i = 0; i < HTTP_SESSIONS_MAX && !s; i++) {
		struct http_session *c = &t->slot[i];
		if (!c->used || c->expires_ms <= now_ms)
			s = c;
		else if (!lru || c->last_ms < lru->last_ms)
			lru = c;
	}
	if (!s) {
		s = lru;
		t->evicted_total++;
	}
	http_session_end(s);
	if ((r = http_token_random(s->id, HTTP_SESSION_ID_LEN / 2)) < 0 ||
	    (r = http_token_random(s->csrf, HTTP_SESSION_ID_LEN / 2)) < 0)
		return r;
	s->used = true;
	s->admin = admin;
	s->created_ms = s->last_ms = now_ms;
	s->expires_ms = now_ms + ttl_ms;
	t->created_total++;
	*out = s;
	return 0;
}

struct http_session *http_session_find(struct http_sessions *t, const char *id, uint64_t now_ms)
{
	struct http_session *found = NULL;
	if (!id || strlen(id) != HTTP_SESSION_ID_LEN)
		return NULL;
	for (size_t i = 0; i < HTTP_SESSIONS_MAX; i++) {
		struct http_session *c = &t->slot[i];
		if (!c->used)
			continue;
		if (c->expires_ms <= now_ms) {
			http_session_end(c);
			continue;
		}
		if (http_token_equal(id, c->id))
			found = c;
	}
	if (found)
		found->last_ms = now_ms;
	return found;
}

void http_session_end(struct http_session *sess)
{
	if (sess)
		explicit_bzero(sess, sizeof(*sess));
}

unsigned http_session_count(const struct http_sessions *t, uint64_t now_ms)
{
	unsigned n = 0;
	for (size_t i = 0; i < HTTP_SESSIONS_MAX; i++)
		n += t->slot[i].used && t->slot[i].expires_ms > now_ms;
	return n;
}

int http_cookie_get(const char *h, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	while (h && *h) {
		size_t vl;
		while (*h == ' ' || *h == '\t' || *h == ';')
			h++;
		vl = strcspn(h, ";");
		if (vl > nl + 1 && !strncmp(h, name, nl) && h[nl] == '=') {
			const char *v = h + nl + 1;
			size_t n = vl - nl - 1;
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= len)
				return -ENOBUFS;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		h += vl;
	}
	return -ENOENT;
}

bool http_origin_same(const char *origin, const char *host, bool tls)
{
	const char *scheme = tls ? "https://" : "http://";
	size_t sl = strlen(scheme);
	if (!origin || !host || !*host || strncasecmp(origin, scheme, sl) != 0)
		return false;
	return strcasecmp(origin + sl, host) == 0;
}
