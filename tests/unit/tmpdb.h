/* tmpdb: a fresh, empty store for one test, removed again by
 * tmpdb_remove().  Shared by the store and decide tests.
 *
 * By default a SQLite file in its own temporary directory.  With
 * PXED_TEST_STORE_URL=postgresql://.../DB?... (scripts/test.sh starts a
 * throw-away cluster and sets it), a new database on that server instead,
 * created through DB (which must exist, e.g. "postgres") and dropped at
 * the end: so the same tests check both backends. */
#pragma once
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tmpdb {
	char dir[64];
	char path[128];
	char url[512];
	char pgname[32];         /* the database created, "" for SQLite */
	char admin[512];         /* the URL it was created through */
};

/* The PostgreSQL URL under test, or NULL for SQLite. */
static inline const char *tmpdb_pg_url(void)
{
	const char *u = getenv("PXED_TEST_STORE_URL");
	return u && strncmp(u, "postgresql:", 11) == 0 ? u : NULL;
}

static inline bool tmpdb_is_pg(void)
{
	return tmpdb_pg_url() != NULL;
}

/* Run one statement on url; 0 or -1. */
static inline int tmpdb_pg_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;
	int r = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		res = PQexec(c, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
			r = 0;
		else
			fprintf(stderr, "tmpdb: %s: %s", sql, PQresultErrorMessage(res));
		PQclear(res);
	} else
		fprintf(stderr, "tmpdb: %s", PQerrorMessage(c));
	PQfinish(c);
	return r;
}

/* url with its database name replaced by db. */
static inline int tmpdb_pg_url_for(const char *url, const char *db, char *out, size_t len)
{
	const char *auth = url + strlen("postgresql://");
	const char *slash = strchr(auth, '/');
	const char *rest;
	int n;
	if (!slash)
		return -1;
	rest = slash + strcspn(slash, "?");
	n = snprintf(out, len, "%.*s/%s%s", (int)(slash - url), url, db, rest);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static inline int tmpdb_make(struct tmpdb *t)
{
	static unsigned seq;
	const char *pg = tmpdb_pg_url();
	char sql[96];
	memset(t, 0, sizeof(*t));
	if (pg) {
		snprintf(t->pgname, sizeof(t->pgname), "pxed_t%d_%u", (int)getpid(), seq++);
		snprintf(t->admin, sizeof(t->admin), "%s", pg);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->pgname);
		if (tmpdb_pg_exec(pg, sql) < 0 ||
		    tmpdb_pg_url_for(pg, t->pgname, t->url, sizeof(t->url)) < 0)
			return -1;
		return 0;
	}
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
	if (t->pgname[0]) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->pgname);
		tmpdb_pg_exec(t->admin, sql);
		return;
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}
