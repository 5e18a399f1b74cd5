/* dhcp_recent: see dhcp_recent.h. */
#include "dhcp/dhcp_recent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dhcp_recent_init(struct dhcp_recent *t, size_t cap, uint64_t ttl_ms)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0)
		return -EINVAL;
	t->e = calloc(cap, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->cap = cap;
	t->ttl_ms = ttl_ms;
	return 0;
}

void dhcp_recent_free(struct dhcp_recent *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static bool live(const struct dhcp_recent *t, const struct dhcp_recent_entry *e, uint64_t now)
{
	return e->used && (now - e->seen_ms < t->ttl_ms || e->local_until_ms > now);
}

static struct dhcp_recent_entry *lookup(const struct dhcp_recent *t, const uint8_t mac[MAC_LEN],
					uint64_t now)
{
	for (size_t i = 0; i < t->cap; i++)
		if (live(t, &t->e[i], now) && !memcmp(t->e[i].mac, mac, MAC_LEN))
			return &t->e[i];
	return NULL;
}

void dhcp_recent_note(struct dhcp_recent *t, const struct pxe_facts *f, struct in_addr addr,
		      uint64_t now)
{
	struct dhcp_recent_entry *e = lookup(t, f->mac, now), *oldest = NULL;

	if (!e) {
		for (size_t i = 0; i < t->cap && !e; i++) {
			if (!live(t, &t->e[i], now))
				e = &t->e[i];
			else if (!oldest || t->e[i].seen_ms < oldest->seen_ms)
				oldest = &t->e[i];
		}
		if (!e)
			e = oldest;
		memset(e, 0, sizeof(*e));
		memcpy(e->mac, f->mac, MAC_LEN);
		e->used = true;
	}
	e->has_guid = f->has_guid;
	memcpy(e->guid, f->guid, GUID_LEN);
	e->has_arch = f->has_arch;
	e->arch = f->arch;
	if (addr.s_addr)
		e->addr = addr;
	e->seen_ms = now;
}

bool dhcp_recent_find(const struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t now,
		      struct dhcp_recent_entry *out)
{
	const struct dhcp_recent_entry *e = lookup(t, mac, now);
	if (!e || now - e->seen_ms >= t->ttl_ms)
		return false;
	*out = *e;
	return true;
}

bool dhcp_recent_find_addr(const struct dhcp_recent *t, struct in_addr addr, uint64_t now,
			   struct dhcp_recent_entry *out)
{
	const struct dhcp_recent_entry *best = NULL;
	if (!addr.s_addr)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		const struct dhcp_recent_entry *e = &t->e[i];
		if (e->used && now - e->seen_ms < t->ttl_ms && e->addr.s_addr == addr.s_addr &&
		    (!best || e->seen_ms > best->seen_ms))
			best = e;
	}
	if (!best)
		return false;
	*out = *best;
	return true;
}

int dhcp_recent_set_local(struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t until_ms,
			  uint64_t now)
{
	struct dhcp_recent_entry *e = lookup(t, mac, now);
	if (!e)
		return -ENOENT;
	e->local_until_ms = until_ms;
	return 0;
}

bool dhcp_recent_local(const struct dhcp_recent *t, const uint8_t mac[MAC_LEN], uint64_t now)
{
	const struct dhcp_recent_entry *e = lookup(t, mac, now);
	return e && e->local_until_ms > now;
}
