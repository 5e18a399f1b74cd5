/* STAND-IN, delete at merge: an in-memory store behind store/store.h, just
 * enough for the HTTP module's tests before store_sqlite.c lands. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 256
#define NEV 4096

struct store {
	struct store_device dev[N];
	size_t ndev;
	struct store_image img[N];
	size_t nimg;
	struct store_deployment dep[N];
	size_t ndep;
	struct { int64_t device_id, deployment_id; } handout[N];
	size_t nhandout;
	struct store_event ev[NEV];
	size_t nev;
	int64_t next_id;
	uint64_t gen;
	char err[256];
};

static int fail(struct store *s, int rc, const char *fmt, const char *a)
{
	snprintf(s->err, sizeof(s->err), fmt, a);
	return rc;
}

int store_open(const char *url, struct store **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->next_id = 1;
	return 0;
}
void store_close(struct store *s) { free(s); }
const char *store_last_error(const struct store *s) { return s->err; }
uint64_t store_generation(struct store *s) { return s->gen; }

int store_device_add(struct store *s, struct store_device *d)
{
	if (s->ndev == N)
		return fail(s, -EIO, "%sfull", "");
	for (size_t i = 0; i < s->ndev; i++) {
		if (!strcmp(s->dev[i].name, d->name))
			return fail(s, -EEXIST, "device '%s' already exists", d->name);
		if (!memcmp(s->dev[i].mac, d->mac, MAC_LEN))
			return fail(s, -EEXIST, "device '%s' already has that MAC", s->dev[i].name);
	}
	d->id = s->next_id++;
	d->created = time(NULL);
	s->dev[s->ndev++] = *d;
	s->gen++;
	return 0;
}

int store_device_by_name(struct store *s, const char *name, struct store_device *out)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (!strcmp(s->dev[i].name, name)) {
			*out = s->dev[i];
			return 0;
		}
	return fail(s, -ENOENT, "device '%s' does not exist", name);
}

int store_device_by_mac(struct store *s, const uint8_t mac[MAC_LEN], struct store_device *out)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (!memcmp(s->dev[i].mac, mac, MAC_LEN)) {
			*out = s->dev[i];
			return 0;
		}
	return -ENOENT;
}

int store_device_by_guid(struct store *s, const uint8_t guid[GUID_LEN], struct store_device *out)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (s->dev[i].has_guid && !memcmp(s->dev[i].guid, guid, GUID_LEN)) {
			*out = s->dev[i];
			return 0;
		}
	return -ENOENT;
}

int store_device_seen(struct store *s, int64_t id, int arch, int64_t when)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (s->dev[i].id == id) {
			s->dev[i].arch = arch;
			s->dev[i].last_seen = when;
			return 0;
		}
	return -ENOENT;
}

#define SORTED_LIST(fn, type, arr, cnt)                                                       \
	static int cmp_##fn(const void *a, const void *b)                                    \
	{                                                                                     \
		return strcmp((*(const type *const *)a)->name, (*(const type *const *)b)->name); \
	}                                                                                     \
	int fn(struct store *s, int (*cb)(void *, const type *), void *ctx)                  \
	{                                                                                     \
		const type *p[N];                                                             \
		int rc;                                                                       \
		for (size_t i = 0; i < s->cnt; i++)                                           \
			p[i] = &s->arr[i];                                                    \
		qsort(p, s->cnt, sizeof(p[0]), cmp_##fn);                                     \
		for (size_t i = 0; i < s->cnt; i++)                                           \
			if ((rc = cb(ctx, p[i])) != 0)                                        \
				return rc < 0 ? rc : 0;                                       \
		return 0;                                                                     \
	}

SORTED_LIST(store_device_list, struct store_device, dev, ndev)
SORTED_LIST(store_image_list, struct store_image, img, nimg)
SORTED_LIST(store_deployment_list, struct store_deployment, dep, ndep)

int store_image_add(struct store *s, struct store_image *im)
{
	for (size_t i = 0; i < s->nimg; i++)
		if (!strcmp(s->img[i].name, im->name))
			return fail(s, -EEXIST, "image '%s' already exists", im->name);
	if (s->nimg == N)
		return fail(s, -EIO, "%sfull", "");
	im->id = s->next_id++;
	im->created = time(NULL);
	s->img[s->nimg++] = *im;
	s->gen++;
	return 0;
}

int store_image_by_name(struct store *s, const char *name, struct store_image *out)
{
	for (size_t i = 0; i < s->nimg; i++)
		if (!strcmp(s->img[i].name, name)) {
			*out = s->img[i];
			return 0;
		}
	return fail(s, -ENOENT, "image '%s' does not exist", name);
}

int store_image_by_id(struct store *s, int64_t id, struct store_image *out)
{
	for (size_t i = 0; i < s->nimg; i++)
		if (s->img[i].id == id) {
			*out = s->img[i];
			return 0;
		}
	return -ENOENT;
}

int store_deployment_add(struct store *s, struct store_deployment *dep)
{
	for (size_t i = 0; i < s->ndep; i++)
		if (!strcmp(s->dep[i].name, dep->name))
			return fail(s, -EEXIST, "deployment '%s' already exists", dep->name);
	if (s->ndep == N)
		return fail(s, -EIO, "%sfull", "");
	dep->id = s->next_id++;
	dep->created = time(NULL);
	s->dep[s->ndep++] = *dep;
	s->gen++;
	return 0;
}

int store_deployments_for_device(struct store *s, int64_t device_id,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	/* required first, then newest (highest id) first */
	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = s->ndep; i-- > 0;) {
			const struct store_deployment *d = &s->dep[i];
			int rc;
			if (d->device_id != device_id || !d->enabled || (int)d->purpose != pass)
				continue;
			if ((rc = cb(ctx, d)) != 0)
				return rc < 0 ? rc : 0;
		}
	return 0;
}

int store_handout_record(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when)
{
	if (s->nhandout == N)
		return -EIO;
	s->handout[s->nhandout].device_id = device_id;
	s->handout[s->nhandout++].deployment_id = deployment_id;
	s->gen++;
	return 0;
}

int store_handout_done(struct store *s, int64_t device_id, int64_t deployment_id)
{
	for (size_t i = 0; i < s->nhandout; i++)
		if (s->handout[i].device_id == device_id &&
		    s->handout[i].deployment_id == deployment_id)
			return 1;
	return 0;
}

int store_event_add(struct store *s, struct store_event *ev)
{
	if (s->nev == NEV) {
		memmove(s->ev, s->ev + 1, sizeof(s->ev[0]) * (NEV - 1));
		s->nev--;
	}
	ev->id = s->next_id++;
	s->ev[s->nev++] = *ev;
	return 0;
}

int store_event_list(struct store *s, int64_t device_id, int64_t since_ms, unsigned limit,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	size_t first = s->nev, n = 0;
	/* newest last, at most limit: find where the last `limit` matches start */
	while (first > 0 && n < limit) {
		const struct store_event *e = &s->ev[first - 1];
		if ((!device_id || e->device_id == device_id) && e->time_ms >= since_ms)
			n++;
		first--;
	}
	for (size_t i = first; i < s->nev; i++) {
		const struct store_event *e = &s->ev[i];
		int rc;
		if ((device_id && e->device_id != device_id) || e->time_ms < since_ms)
			continue;
		if ((rc = cb(ctx, e)) != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}
