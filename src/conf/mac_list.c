#include "conf/mac_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LIST_MAX 1000000 /* a bound on a client-independent but admin-supplied file */

static int mac_cmp(const void *a, const void *b) { return memcmp(a, b, MAC_LEN); }

void mac_list_clear(struct mac_list *l)
{
	free(l->macs);
	l->macs = NULL;
	l->n = 0;
}

int mac_list_parse(const char *text, size_t len, struct mac_list *out, unsigned *bad_line)
{
	size_t cap = 0, n = 0, pos = 0;
	uint8_t (*macs)[MAC_LEN] = NULL;
	unsigned line = 0;
	*bad_line = 0;
	out->macs = NULL;
	out->n = 0;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		pos += l + (nl ? 1 : 0);
		line++;
		/* Strip comment, then surrounding blanks (and a CR from DOS files). */
		const char *hash = memchr(s, '#', l);
		if (hash)
			l = (size_t)(hash - s);
		while (l && (s[0] == ' ' || s[0] == '\t')) {
			s++;
			l--;
		}
		while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
			l--;
		if (l == 0)
			continue;
		char buf[32];
		if (l >= sizeof(buf) || memchr(s, '\0', l))
			goto bad;
		memcpy(buf, s, l);
		buf[l] = '\0';
		if (n == cap) {
			if (cap >= MAC_LIST_MAX)
				goto bad;
			size_t ncap = cap ? cap * 2 : 64;
			void *nm = realloc(macs, ncap * MAC_LEN);
			if (!nm) {
				free(macs);
				return -ENOMEM;
			}
			macs = nm;
			cap = ncap;
		}
		if (mac_parse(buf, macs[n]) < 0)
			goto bad;
		n++;
	}
	if (n) {
		qsort(macs, n, MAC_LEN, mac_cmp);
		size_t u = 1;
		for (size_t i = 1; i < n; i++)
			if (memcmp(macs[i], macs[u - 1], MAC_LEN) != 0)
				memcpy(macs[u++], macs[i], MAC_LEN);
		n = u;
	}
	out->macs = macs;
	out->n = n;
	return 0;
bad:
	free(macs);
	*bad_line = line;
	return -EINVAL;
}

int mac_list_load(const char *path, struct mac_list *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	unsigned bad = 0;
	int r;
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		if (len == cap) {
			if (cap > 64u << 20) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: larger than 64 MiB", path);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	r = mac_list_parse(buf ? buf : "", len, out, &bad);
	free(buf);
	if (r == -EINVAL)
		snprintf(err, errlen, "%s:%u: not a MAC address", path, bad);
	return r;
}

bool mac_list_contains(const struct mac_list *l, const uint8_t mac[MAC_LEN])
{
	return l->n && bsearch(mac, l->macs, l->n, MAC_LEN, mac_cmp) != NULL;
}
