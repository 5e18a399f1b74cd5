/* tmpdb: a fresh SQLite store file in its own temporary directory, removed
 * again by tmpdb_remove().  Shared by the store and decide tests. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tmpdb {
	char dir[64];
	char path[128];
	char url[160];
};

static inline int tmpdb_make(struct tmpdb *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/pxed-test-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/pxed.db", t->dir);
	snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
	return 0;
}

static inline void tmpdb_remove(struct tmpdb *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}
