/* cache: see cache.h. */
#include "decide/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct dcache {
	struct dcache_entry **buckets;
	size_t nbuckets;                 /* a power of two */
	struct dcache_entry *oldest, *newest;
	size_t n, max;
};

/* FNV-1a over the key: 24 bytes, no padding (all uint8_t). */
static uint64_t key_hash(const struct dcache_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

int dcache_new(size_t max_entries, struct dcache **out)
{
	struct dcache *c;
	size_t nb = 1024;
	*out = NULL;
	if (max_entries == 0)
		return -EINVAL;
	/* About one entry per bucket when full. */
	while (nb < max_entries && nb < ((size_t)1 << 30))
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	c->nbuckets = nb;
	c->max = max_entries;
	*out = c;
	return 0;
}

size_t dcache_clear(struct dcache *c)
{
	size_t n = c->n;
	struct dcache_entry *e = c->oldest;
	while (e) {
		struct dcache_entry *next = e->newer;
		free(e);
		e = next;
	}
	memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
	c->oldest = c->newest = NULL;
	c->n = 0;
	return n;
}

void dcache_free(struct dcache *c)
{
	if (!c)
		return;
	dcache_clear(c);
	free(c->buckets);
	free(c);
}

size_t dcache_count(const struct dcache *c)
{
	return c->n;
}

size_t dcache_limit(const struct dcache *c)
{
	return c->max;
}

struct dcache_entry *dcache_find(struct dcache *c, const struct dcache_key *k)
{
	uint64_t h = key_hash(k);
	for (struct dcache_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	return NULL;
}

void dcache_remove(struct dcache *c, struct dcache_entry *e)
{
	struct dcache_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->n--;
	free(e);
}

int dcache_put(struct dcache *c, const struct dcache_key *k, const struct dcache_meta *m,
	       const struct decision *dec)
{
	const char *src[8] = { dec->reason, dec->device_name, dec->deployment_name,
			       dec->image_name, dec->kernel, dec->initrd, dec->cmdline, dec->nbp };
	const size_t cap[8] = { sizeof(dec->reason), sizeof(dec->device_name),
				sizeof(dec->deployment_name), sizeof(dec->image_name),
				sizeof(dec->kernel), sizeof(dec->initrd), sizeof(dec->cmdline),
				sizeof(dec->nbp) };
	struct dcache_entry *e, *old;
	size_t total = 0, len[8];
	int evicted = 0;

	for (int i = 0; i < 8; i++) {
		len[i] = strnlen(src[i], cap[i] - 1);
		total += len[i] + 1;
	}
	e = malloc(sizeof(*e) + total);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->hash = key_hash(k);
	e->key = *k;
	e->meta = *m;
	e->outcome = dec->outcome;
	e->required = dec->required;
	e->device_id = dec->device_id;
	e->deployment_id = dec->deployment_id;
	memcpy(e->loader, dec->loader, sizeof(e->loader));
	e->loader[sizeof(e->loader) - 1] = '\0';
	char *p = e->strs;
	for (int i = 0; i < 8; i++) {
		e->len[i] = (uint16_t)len[i];
		memcpy(p, src[i], len[i]);
		p[len[i]] = '\0';
		p += len[i] + 1;
	}

	old = dcache_find(c, k);
	if (old)
		dcache_remove(c, old);
	else if (c->n >= c->max) {
		dcache_remove(c, c->oldest);
		evicted = 1;
	}
	size_t b = e->hash & (c->nbuckets - 1);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->n++;
	return evicted;
}

void dcache_entry_decision(const struct dcache_entry *e, struct decision *out)
{
	char *dst[8] = { out->reason, out->device_name, out->deployment_name, out->image_name,
			 out->kernel, out->initrd, out->cmdline, out->nbp };
	const char *p = e->strs;
	memset(out, 0, sizeof(*out));
	out->outcome = e->outcome;
	out->required = e->required;
	out->device_id = e->device_id;
	out->deployment_id = e->deployment_id;
	memcpy(out->loader, e->loader, sizeof(out->loader));
	/* Lengths were capped to each field's size - 1 when packed. */
	for (int i = 0; i < 8; i++) {
		memcpy(dst[i], p, e->len[i] + 1u);
		p += e->len[i] + 1u;
	}
}

void dcache_foreach(struct dcache *c, int (*cb)(void *ctx, const struct dcache_entry *e),
		    void *ctx)
{
	for (struct dcache_entry *e = c->oldest; e; e = e->newer)
		if (cb(ctx, e))
			break;
}
