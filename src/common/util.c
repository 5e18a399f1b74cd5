#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Collect exactly n hex digits from s, skipping the separators allowed at
 * the given positions; the rest of the string must be empty. */
int mac_parse(const char *s, uint8_t mac[MAC_LEN])
{
	char hex[12];
	size_t n = 0, len;
	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 17) { /* aa:bb:cc:dd:ee:ff or aa-bb-... */
		char sep = s[2];
		if (sep != ':' && sep != '-')
			return -EINVAL;
		for (size_t i = 0; i < 17; i++) {
			if (i % 3 == 2) {
				if (s[i] != sep)
					return -EINVAL;
			} else
				hex[n++] = s[i];
		}
	} else if (len == 14) { /* aabb.ccdd.eeff */
		for (size_t i = 0; i < 14; i++) {
			if (i % 5 == 4) {
				if (s[i] != '.')
					return -EINVAL;
			} else
				hex[n++] = s[i];
		}
	} else if (len == 12) {
		memcpy(hex, s, 12);
		n = 12;
	} else
		return -EINVAL;
	for (size_t i = 0; i < 6; i++) {
		int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Lower-case hex by table: these run several times per PXE request (log
 * line, SQL keys), where snprintf() showed up in profiles of a storm. */
static const char hex_digits[] = "0123456789abcdef";

static char *hex_byte(char *o, uint8_t b)
{
	*o++ = hex_digits[b >> 4];
	*o++ = hex_digits[b & 15];
	return o;
}

void mac_format(const uint8_t mac[MAC_LEN], char out[MAC_STR_LEN])
{
	char *o = out;
	for (size_t i = 0; i < MAC_LEN; i++) {
		if (i)
			*o++ = ':';
		o = hex_byte(o, mac[i]);
	}
	*o = '\0';
}

int guid_parse(const char *s, uint8_t guid[GUID_LEN])
{
	char hex[32];
	size_t len, n = 0;
	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		len = 36;
	}
	if (len != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
		} else
			hex[n++] = s[i];
	}
	for (size_t i = 0; i < GUID_LEN; i++) {
		int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		guid[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void guid_format(const uint8_t g[GUID_LEN], char out[GUID_STR_LEN])
{
	char *o = out;
	for (size_t i = 0; i < GUID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-'; /* 8-4-4-4-12 */
		o = hex_byte(o, g[i]);
	}
	*o = '\0';
}

void guid_from_wire(const uint8_t w[GUID_LEN], uint8_t g[GUID_LEN])
{
	const uint8_t order[GUID_LEN] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	for (size_t i = 0; i < GUID_LEN; i++)
		g[i] = w[order[i]];
}

void guid_to_wire(const uint8_t g[GUID_LEN], uint8_t w[GUID_LEN])
{
	/* The permutation is its own inverse. */
	guid_from_wire(g, w);
}

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int str_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);
	if (n >= dstlen)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int url_host_format(const struct sockaddr_storage *a, uint16_t port, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN], p[8] = "";
	bool v6 = false;
	int n;

	if (a->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
	} else if (a->ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
		v6 = !IN6_IS_ADDR_V4MAPPED(in6);
		if (v6)
			inet_ntop(AF_INET6, in6, ip, sizeof(ip));
		else
			inet_ntop(AF_INET, &in6->s6_addr[12], ip, sizeof(ip));
	} else {
		return -EAFNOSUPPORT;
	}
	if (port)
		snprintf(p, sizeof(p), ":%u", (unsigned)port);
	n = snprintf(out, len, v6 ? "[%s]%s" : "%s%s", ip, p);
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return n;
}

int url_http_host(const char *http_address, const struct sockaddr_storage *reached,
		  uint16_t port, char *out, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	/* "" and the wildcards 0.0.0.0 and :: listen everywhere: the address
	 * the client reached is one HTTP listens on too. */
	if (http_address && inet_pton(AF_INET, http_address, &sin->sin_addr) == 1 &&
	    sin->sin_addr.s_addr) {
		ss.ss_family = AF_INET;
		return url_host_format(&ss, port, out, len);
	}
	if (http_address && inet_pton(AF_INET6, http_address, &sin6->sin6_addr) == 1 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
		ss.ss_family = AF_INET6;
		return url_host_format(&ss, port, out, len);
	}
	return url_host_format(reached, port, out, len);
}
