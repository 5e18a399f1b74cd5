/* mac_list: the MACIgnoreListFile -- one MAC per line in any usual notation
 * (aa:bb:cc:dd:ee:ff, aa-bb-..., aabb.ccdd.eeff, aabbccddeeff), blank lines
 * and '#' comments allowed.  A sorted array; lookups are binary searches. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct mac_list {
	uint8_t (*macs)[MAC_LEN]; /* sorted, unique */
	size_t n;
};

/* Parse text (len bytes, need not be NUL-terminated).  Pure.  On a bad
 * line returns -EINVAL with *bad_line set (1-based) and the list empty. */
int mac_list_parse(const char *text, size_t len, struct mac_list *out, unsigned *bad_line);
/* Read and parse a file; err gets "FILE:LINE: reason" on failure. */
int mac_list_load(const char *path, struct mac_list *out, char *err, size_t errlen);
bool mac_list_contains(const struct mac_list *l, const uint8_t mac[MAC_LEN]);
void mac_list_clear(struct mac_list *l);
