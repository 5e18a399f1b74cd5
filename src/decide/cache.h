/* cache: the decision cache's data structure, internal to the decide
 * module (decide_cache.c judges and counts entries; decide.c locks).
 *
 * A chained hash table keyed by what the rules read from the client --
 * MAC, GUID as sent, architecture class -- with every entry also on a list
 * in insertion order, so the table stays bounded by evicting the oldest
 * entry in O(1).  Decisions are stored compactly (their strings packed
 * into one allocation), about 300 bytes an entry instead of the 1.7 KB of
 * a struct decision, so 100,000 entries take about 30 MB. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide/decide.h"

struct dcache_key {
	uint8_t mac[MAC_LEN];
	uint8_t has_guid;
	uint8_t arch_class;   /* enum pxe_arch_class, 0xff = not sent */
	uint8_t guid[GUID_LEN];
};

/* Everything decide_cache.c needs to judge and use an entry besides the decision. */
struct dcache_meta {
	uint64_t store_gen;      /* store_generation() read before computing */
	uint64_t settings_gen;   /* decider settings generation then */
	int64_t computed_ms;     /* decider clock, unix ms */
	int64_t valid_until_ms;  /* CacheExpire or the next deployment window edge */
	int64_t dev_last_seen;   /* the device's last-seen time as last written */
	int dev_arch;            /* its stored architecture, for the seen refresh */
	bool support_unknown;    /* SupportUnknownMachines when computed */
};

struct dcache_entry {
	struct dcache_entry *hnext;          /* bucket chain */
	struct dcache_entry *older, *newer;  /* insertion order */
	uint64_t hash;
	struct dcache_key key;
	struct dcache_meta meta;
	enum decision_outcome outcome;
	bool required;
	int64_t device_id;
	int64_t deployment_id;
	char loader[8];                      /* decision.loader */
	uint16_t len[8];                     /* string lengths, in the order of strs */
	char strs[];                         /* reason, device, deployment, image,
					      * kernel, initrd, cmdline, nbp; NUL each */
};

struct dcache;

int dcache_new(size_t max_entries, struct dcache **out);
void dcache_free(struct dcache *c); /* accepts NULL */
struct dcache_entry *dcache_find(struct dcache *c, const struct dcache_key *k);
/* Insert (replacing an entry with the same key).  Returns 1 when the
 * oldest entry was evicted to make room, 0 if not, -ENOMEM. */
int dcache_put(struct dcache *c, const struct dcache_key *k, const struct dcache_meta *m,
	       const struct decision *dec);
void dcache_remove(struct dcache *c, struct dcache_entry *e);
/* Drop everything; returns how many entries there were. */
size_t dcache_clear(struct dcache *c);
size_t dcache_count(const struct dcache *c);
size_t dcache_limit(const struct dcache *c);
/* Unpack an entry's decision. */
void dcache_entry_decision(const struct dcache_entry *e, struct decision *out);
/* Oldest first; cb returning non-zero stops. */
void dcache_foreach(struct dcache *c, int (*cb)(void *ctx, const struct dcache_entry *e),
		    void *ctx);
