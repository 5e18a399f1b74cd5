/* One file (about 2,800 lines): it implements the whole store interface
 * (store.h) over one connection and its private statement table, as
 * store_pg.c does for PostgreSQL.  Split, the connection, the statement
 * table and the transaction helpers every function uses would become an
 * interface of their own, shared by files that mean one backend. */
/* store_sqlite: the store over SQLite, URL "sqlite:PATH".
 *
 * One connection per store handle, WAL mode (readers never wait for the
 * writer, and several pxed processes may share the file), foreign keys on,
 * a busy timeout so a concurrent writer makes us wait rather than fail.
 *
 * Schema versions: PRAGMA user_version counts the migrations applied; each
 * entry of `migrations` below is applied once, in its own transaction, in
 * order.  Never edit an applied migration: add a new one.
 *
 * Generation: the meta row 'generation' is bumped inside the same
 * transaction as every decision-relevant change.  store_generation() uses
 * PRAGMA data_version (changes whenever another connection commits) to
 * know when it must re-read the row; our own commits update the cached
 * value from the bump's RETURNING clause. */
#include "store/store_sqlite_names.h"
#include "store/store_backend.h"

#include "common/template.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define STORE_BUSY_TIMEOUT_MS 5000

/* Schema migrations; index i takes user_version i to i + 1.
 *
 * Room left for the next steps without rebuilding tables:
 *  - deployments.device_id is nullable: a deployment will target a device,
 *    a collection (collection_id) or unknown machines of an architecture
 *    (unknown_arch), added as nullable columns by ALTER TABLE.
 *  - available_from / expires become nullable integer columns.
 *  - collections and collection_members become new tables; clearing a
 *    collection is a DELETE FROM pxe_history over its members.
 *  - events keep no foreign keys: history outlives deleted devices. */
static const char *const migrations[] = {
	/* 1: devices, images, deployments, PXE history, events, meta */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	");"
	"INSERT INTO meta (key, value) VALUES ('generation', 0);"
	"CREATE TABLE devices ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  mac TEXT NOT NULL UNIQUE,"         /* lower-case colon form */
	"  guid TEXT UNIQUE,"                 /* lower-case 8-4-4-4-12, NULL = none */
	"  arch INTEGER NOT NULL DEFAULT -1," /* last option 93 seen, -1 = never */
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE images ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  kernel TEXT NOT NULL DEFAULT '',"
	"  initrd TEXT NOT NULL DEFAULT '',"
	"  cmdline TEXT NOT NULL DEFAULT '',"
	"  nbp TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE deployments ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE RESTRICT,"
	"  device_id INTEGER REFERENCES devices(id) ON DELETE RESTRICT,"
	"  purpose INTEGER NOT NULL CHECK (purpose IN (0, 1))," /* 1 = required */
	"  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX deployments_device ON deployments (device_id);"
	"CREATE INDEX deployments_image ON deployments (image_id);"
	"CREATE TABLE pxe_history ("
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
	"  handed_out_at INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, deployment_id)"
	");"
	"CREATE INDEX pxe_history_deployment ON pxe_history (deployment_id);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time_ms INTEGER NOT NULL,"
	"  mac TEXT NOT NULL,"
	"  guid TEXT,"
	"  arch INTEGER NOT NULL DEFAULT -1,"
	"  ifname TEXT NOT NULL DEFAULT '',"
	"  via TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  device_id INTEGER NOT NULL DEFAULT 0,"
	"  deployment_id INTEGER NOT NULL DEFAULT 0,"
	"  deployment_name TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX events_device ON events (device_id, id);"
	"CREATE INDEX events_time ON events (time_ms);",

	/* 2: collections with static membership; deployments that target a
	 * collection or unknown machines of one architecture class, with an
	 * availability window; devices pxed recorded as unknown machines. */
	"CREATE TABLE collections ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE collection_members ("
	"  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
	"  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (collection_id, device_id)"
	");"
	"CREATE INDEX collection_members_device ON collection_members (device_id);"
	"ALTER TABLE deployments ADD COLUMN"
	"  collection_id INTEGER REFERENCES collections(id) ON DELETE RESTRICT;"
	/* enum pxe_arch_class of the unknown machines targeted, NULL = none */
	"ALTER TABLE deployments ADD COLUMN unknown_arch INTEGER;"
	"ALTER TABLE deployments ADD COLUMN available_from INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE deployments ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX deployments_collection ON deployments (collection_id);"
	"CREATE INDEX deployments_unknown ON deployments (unknown_arch);"
	"ALTER TABLE devices ADD COLUMN discovered INTEGER NOT NULL DEFAULT 0;",

	/* 3: installer reports, one row per deployment boot handed out (the
	 * last boot of a device and deployment replaces the earlier one), so
	 * that report tokens and states outlive a restart and are shared by
	 * every server on the database.  The token is the row's credential:
	 * 128 random bits, looked up through its unique index.  device_id 0 =
	 * an unknown machine; no foreign key, so the report stays readable
	 * after the device is removed (the name and MAC are kept). */
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY,"
	"  token TEXT NOT NULL UNIQUE,"
	"  device_id INTEGER NOT NULL DEFAULT 0,"
	"  device_name TEXT NOT NULL,"
	"  mac TEXT NOT NULL,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
	"  deployment_name TEXT NOT NULL,"
	"  handed_out_ms INTEGER NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"
	"  message TEXT NOT NULL DEFAULT '',"
	"  updated_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX reports_deployment ON reports (deployment_id, device_id);",
	/* 4: an image's architecture ('' = x86: BIOS and UEFI x64;
	 * 'uefi-arm64') and boot loader family for UEFI x64 ('' = the
	 * BootLoaderUEFIx64 setting, 'ipxe', 'grub').  Self-contained: only
	 * these two columns. */
	"ALTER TABLE images ADD COLUMN arch TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE images ADD COLUMN loader TEXT NOT NULL DEFAULT '';",

	/* 5: variables (name=value) of a device, collection, image or
	 * deployment, or global (level 0, owner_id 0), rendered into command
	 * lines and answer files.  level is enum store_var_level.  owner_id
	 * cannot be a foreign key (it names a row of one of four tables), so
	 * a trigger per table removes the variables with their owner.  No
	 * generation bump: a variable never changes a DHCP answer; it is read
	 * when a script or an answer file is made. */
	"CREATE TABLE vars ("
	"  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 4),"
	"  owner_id INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (level, owner_id, key)"
	");"
	"CREATE TRIGGER vars_device_gone AFTER DELETE ON devices BEGIN"
	"  DELETE FROM vars WHERE level = 4 AND owner_id = OLD.id; END;"
	"CREATE TRIGGER vars_deployment_gone AFTER DELETE ON deployments BEGIN"
	"  DELETE FROM vars WHERE level = 3 AND owner_id = OLD.id; END;"
	"CREATE TRIGGER vars_collection_gone AFTER DELETE ON collections BEGIN"
	"  DELETE FROM vars WHERE level = 2 AND owner_id = OLD.id; END;"
	"CREATE TRIGGER vars_image_gone AFTER DELETE ON images BEGIN"
	"  DELETE FROM vars WHERE level = 1 AND owner_id = OLD.id; END;",
};

#define DEVICE_COLS "id, name, mac, guid, arch, last_seen, created, discovered"
#define IMAGE_COLS "id, name, kernel, initrd, cmdline, nbp, created, arch, loader"
#define DEPLOYMENT_COLS                                                                \
	"SELECT d.id, d.name, d.image_id, i.name, COALESCE(d.device_id, 0),"           \
	" COALESCE(v.name, ''), d.purpose, d.enabled, d.created,"                      \
	" COALESCE(d.collection_id, 0), COALESCE(c.name, ''),"                         \
	" COALESCE(d.unknown_arch, -1), d.available_from, d.expires"
#define DEPLOYMENT_FROM                                                                \
	" FROM deployments d JOIN images i ON i.id = d.image_id"                       \
	" LEFT JOIN devices v ON v.id = d.device_id"                                   \
	" LEFT JOIN collections c ON c.id = d.collection_id"
#define DEPLOYMENT_SELECT DEPLOYMENT_COLS DEPLOYMENT_FROM
#define EVENT_COLS                                                                     \
	"id, time_ms, mac, guid, arch, ifname, via, outcome, reason, device_id,"       \
	" deployment_id, deployment_name"

#define REPORT_COLS                                                                    \
	"id, token, device_id, device_name, mac, deployment_id, deployment_name,"      \
	" handed_out_ms, state, message, updated_ms"

/* Prepared once per store, on first use. */
enum stmt_id {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_GEN_BUMP,
	ST_GEN_READ,
	ST_DATA_VERSION,
	ST_DEVICE_ADD,
	ST_DEVICE_UPDATE,
	ST_DEVICE_BY_NAME,
	ST_DEVICE_BY_MAC,
	ST_DEVICE_BY_GUID,
	ST_DEVICE_BY_MAC_GUID,
	ST_DEVICE_BY_ID,
	ST_DEVICE_SEEN,
	ST_DEVICE_LIST,
	ST_DEVICE_IN_USE,
	ST_DEVICE_DELETE,
	ST_IMAGE_ADD,
	ST_IMAGE_BY_NAME,
	ST_IMAGE_BY_ID,
	ST_IMAGE_LIST,
	ST_IMAGE_IN_USE,
	ST_IMAGE_DELETE,
	ST_DEPLOYMENT_ADD,
	ST_DEPLOYMENT_BY_NAME,
	ST_DEPLOYMENT_BY_ID,
	ST_DEPLOYMENT_LIST,
	ST_DEPLOYMENTS_FOR_DEVICE,
	ST_DEPLOYMENT_SET_ENABLED,
	ST_DEPLOYMENT_DELETE,
	ST_HANDOUT_RECORD,
	ST_HANDOUT_GET,
	ST_HANDOUT_CLEAR_DEVICE,
	ST_HANDOUT_CLEAR_COLLECTION,
	ST_HANDOUT_LIST,
	ST_DEPLOYMENTS_APPLICABLE,
	ST_DEPLOYMENT_SET_WINDOW,
	ST_DEVICE_ADD_DISCOVERED,
	ST_COLLECTION_ADD,
	ST_COLLECTION_BY_NAME,
	ST_COLLECTION_FIND,
	ST_COLLECTION_BY_ID,
	ST_COLLECTION_LIST,
	ST_COLLECTION_IN_USE,
	ST_COLLECTION_DELETE,
	ST_MEMBER_ADD,
	ST_MEMBER_REMOVE,
	ST_MEMBERS,
	ST_DEVICE_COLLECTIONS,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_EVENT_ADD,
	ST_EVENT_PRUNE,
	ST_EVENT_CAP,
	ST_EVENT_FIND,
	ST_REPORT_REPLACE,
	ST_REPORT_ADD,
	ST_REPORT_BY_TOKEN,
	ST_REPORT_UPDATE,
	ST_REPORT_COUNTS,
	ST_REPORT_LIST,
	ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_GEN_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value",
	[ST_GEN_READ] = "SELECT value FROM meta WHERE key = 'generation'",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_DEVICE_ADD] = "INSERT INTO devices (name, mac, guid, arch, last_seen, created)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_DEVICE_ADD_DISCOVERED] = "INSERT INTO devices (name, mac, guid, arch, last_seen,"
				     " created, discovered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
	[ST_DEVICE_UPDATE] = "UPDATE devices SET name = ?1, mac = ?2, guid = ?3 WHERE id = ?4",
	[ST_DEVICE_BY_NAME] = "SELECT " DEVICE_COLS " FROM devices WHERE name = ?1",
	[ST_DEVICE_BY_MAC] = "SELECT " DEVICE_COLS " FROM devices WHERE mac = ?1",
	[ST_DEVICE_BY_GUID] = "SELECT " DEVICE_COLS " FROM devices WHERE guid = ?1",
	/* Both of a client's names in one statement; each arm is a lookup in
	 * its column's unique index, and ?2 NULL matches nothing. */
	[ST_DEVICE_BY_MAC_GUID] = "SELECT " DEVICE_COLS " FROM devices WHERE mac = ?1"
				  " UNION ALL SELECT " DEVICE_COLS " FROM devices WHERE guid = ?2",
	[ST_DEVICE_BY_ID] = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?1",
	[ST_DEVICE_SEEN] = "UPDATE devices SET last_seen = ?3,"
			   " arch = CASE WHEN ?2 >= 0 THEN ?2 ELSE arch END WHERE id = ?1",
	[ST_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices ORDER BY name",
	[ST_DEVICE_IN_USE] = "SELECT name FROM deployments WHERE device_id = ?1 ORDER BY name LIMIT 1",
	[ST_DEVICE_DELETE] = "DELETE FROM devices WHERE id = ?1",
	[ST_IMAGE_ADD] = "INSERT INTO images (name, kernel, initrd, cmdline, nbp, created, arch, loader)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_IMAGE_BY_NAME] = "SELECT " IMAGE_COLS " FROM images WHERE name = ?1",
	[ST_IMAGE_BY_ID] = "SELECT " IMAGE_COLS " FROM images WHERE id = ?1",
	[ST_IMAGE_LIST] = "SELECT " IMAGE_COLS " FROM images ORDER BY name",
	[ST_IMAGE_IN_USE] = "SELECT name FROM deployments WHERE image_id = ?1 ORDER BY name LIMIT 1",
	[ST_IMAGE_DELETE] = "DELETE FROM images WHERE id = ?1",
	[ST_DEPLOYMENT_ADD] = "INSERT INTO deployments (name, image_id, device_id, purpose, enabled,"
			      " created, collection_id, unknown_arch, available_from, expires)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_DEPLOYMENT_BY_NAME] = DEPLOYMENT_SELECT " WHERE d.name = ?1",
	[ST_DEPLOYMENT_BY_ID] = DEPLOYMENT_SELECT " WHERE d.id = ?1",
	[ST_DEPLOYMENT_LIST] = DEPLOYMENT_SELECT " ORDER BY d.name",
	/* Decision order: required before available, then newest first (id
	 * breaks ties between deployments created in the same second). */
	[ST_DEPLOYMENTS_FOR_DEVICE] = DEPLOYMENT_SELECT
	" WHERE d.device_id = ?1 AND d.enabled = 1"
	" ORDER BY d.purpose DESC, d.created DESC, d.id DESC",
	[ST_DEPLOYMENT_SET_ENABLED] = "UPDATE deployments SET enabled = ?2 WHERE name = ?1",
	[ST_DEPLOYMENT_DELETE] = "DELETE FROM deployments WHERE name = ?1",
	[ST_HANDOUT_RECORD] = "INSERT INTO pxe_history (device_id, deployment_id, handed_out_at)"
			      " VALUES (?1, ?2, ?3) ON CONFLICT (device_id, deployment_id)"
			      " DO NOTHING",
	[ST_HANDOUT_GET] = "SELECT handed_out_at FROM pxe_history"
			   " WHERE device_id = ?1 AND deployment_id = ?2",
	[ST_HANDOUT_CLEAR_DEVICE] = "DELETE FROM pxe_history WHERE device_id = ?1",
	[ST_HANDOUT_LIST] = "SELECT device_id, deployment_id, handed_out_at FROM pxe_history"
			    " ORDER BY device_id, deployment_id",
	[ST_HANDOUT_CLEAR_COLLECTION] = "DELETE FROM pxe_history WHERE device_id IN"
					" (SELECT device_id FROM collection_members"
					" WHERE collection_id = ?1)",
	/* Everything that targets one client, in decision order, with its
	 * hand-out time: the device itself, its collections, and -- for an
	 * unknown machine (?1 = 0) or a device pxed discovered as one -- the
	 * deployments for unknown machines of its architecture class (?2).
	 * A UNION of three indexed lookups, so it stays fast at 100,000
	 * devices and 10,000 deployments. */
	[ST_DEPLOYMENTS_APPLICABLE] = DEPLOYMENT_COLS ", COALESCE(h.handed_out_at, 0), i.arch"
	DEPLOYMENT_FROM
	" LEFT JOIN pxe_history h ON h.device_id = ?1 AND h.deployment_id = d.id"
	" WHERE d.enabled = 1 AND d.id IN ("
	"  SELECT id FROM deployments WHERE device_id = ?1"
	"  UNION ALL SELECT x.id FROM collection_members m"
	"   JOIN deployments x ON x.collection_id = m.collection_id WHERE m.device_id = ?1"
	"  UNION ALL SELECT id FROM deployments WHERE unknown_arch = ?2 AND (?1 = 0 OR"
	"   EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND discovered = 1)))"
	" ORDER BY d.purpose DESC, d.created DESC, d.id DESC",
	[ST_DEPLOYMENT_SET_WINDOW] = "UPDATE deployments SET available_from = ?2, expires = ?3"
				     " WHERE name = ?1",
	[ST_COLLECTION_ADD] = "INSERT INTO collections (name, created) VALUES (?1, ?2)",
	[ST_COLLECTION_BY_NAME] = "SELECT c.id, c.name, c.created,"
				  " (SELECT COUNT(*) FROM collection_members m WHERE m.collection_id = c.id)"
				  " FROM collections c WHERE c.name = ?1",
	/* The same without counting members (a scan of them): what changes
	 * and look-ups by name need. */
	[ST_COLLECTION_FIND] = "SELECT c.id, c.name, c.created, 0 FROM collections c WHERE c.name = ?1",
	/* Two columns, as resolve_ref() reads them. */
	[ST_COLLECTION_BY_ID] = "SELECT id, name FROM collections WHERE id = ?1",
	[ST_COLLECTION_LIST] = "SELECT c.id, c.name, c.created,"
			       " (SELECT COUNT(*) FROM collection_members m WHERE m.collection_id = c.id)"
			       " FROM collections c ORDER BY c.name",
	[ST_COLLECTION_IN_USE] = "SELECT name FROM deployments WHERE collection_id = ?1"
				 " ORDER BY name LIMIT 1",
	[ST_COLLECTION_DELETE] = "DELETE FROM collections WHERE id = ?1",
	[ST_MEMBER_ADD] = "INSERT OR IGNORE INTO collection_members (collection_id, device_id)"
			  " VALUES (?1, ?2)",
	[ST_MEMBER_REMOVE] = "DELETE FROM collection_members WHERE collection_id = ?1"
			     " AND device_id = ?2",
	[ST_MEMBERS] = "SELECT " DEVICE_COLS " FROM devices WHERE id IN"
		       " (SELECT device_id FROM collection_members WHERE collection_id = ?1)"
		       " ORDER BY name",
	[ST_DEVICE_COLLECTIONS] = "SELECT c.id, c.name, c.created,"
				  " (SELECT COUNT(*) FROM collection_members m WHERE m.collection_id = c.id)"
				  " FROM collections c WHERE c.id IN (SELECT collection_id"
				  " FROM collection_members WHERE device_id = ?1) ORDER BY c.name",
	[ST_SAVEPOINT] = "SAVEPOINT bulk_item",
	[ST_RELEASE] = "RELEASE bulk_item",
	[ST_ROLLBACK_TO] = "ROLLBACK TO bulk_item",
	[ST_EVENT_ADD] = "INSERT INTO events (time_ms, mac, guid, arch, ifname, via, outcome,"
			 " reason, device_id, deployment_id, deployment_name)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_EVENT_PRUNE] = "DELETE FROM events WHERE time_ms < ?1",
	/* ids only grow: the newest rows have the largest */
	[ST_EVENT_CAP] = "DELETE FROM events WHERE id <= "
			 "(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)",
	[ST_EVENT_FIND] = "SELECT * FROM (SELECT " EVENT_COLS " FROM events"
			  " WHERE (?1 = 0 OR device_id = ?1) AND (?2 = 0 OR time_ms >= ?2)"
			  " AND (?4 = '' OR mac = ?4)"
			  " ORDER BY id DESC LIMIT ?3) ORDER BY id ASC",
	/* A new boot of the same device (by id; an unknown machine by MAC)
	 * and deployment replaces the earlier one. */
	[ST_REPORT_REPLACE] = "DELETE FROM reports WHERE deployment_id = ?1 AND device_id = ?2"
			      " AND (?2 <> 0 OR mac = ?3)",
	[ST_REPORT_ADD] = "INSERT INTO reports (token, device_id, device_name, mac, deployment_id,"
			  " deployment_name, handed_out_ms, state, message, updated_ms)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, '', ?7)",
	[ST_REPORT_BY_TOKEN] = "SELECT " REPORT_COLS " FROM reports WHERE token = ?1",
	[ST_REPORT_UPDATE] = "UPDATE reports SET state = ?2, message = ?3, updated_ms = ?4"
			     " WHERE id = ?1",
	[ST_REPORT_COUNTS] = "SELECT state, COUNT(*) FROM reports WHERE deployment_id = ?1"
			     " GROUP BY state",
	[ST_REPORT_LIST] = "SELECT " REPORT_COLS " FROM reports WHERE deployment_id = ?1"
			   " ORDER BY device_name, mac",
};

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;        /* serialises calls: statements are shared */
	sqlite3_stmt *stmt[ST__COUNT];
	uint64_t generation;         /* last value read or written */
	int64_t data_version;        /* PRAGMA data_version when it was read */
	bool bulk;                   /* inside store_bulk_begin(): writes are savepoints */
	bool bulk_dirty;             /* a bulk write succeeded: bump at store_bulk_end() */
	unsigned read_depth;         /* store_read_begin() calls not yet ended */
	bool read_tx;                /* ... and the outermost one opened a transaction */
	char path[4096];
	/* A second, read-only connection that only reads the generation, so
	 * store_generation_peek() never waits for a call in progress on db
	 * (which may sit in the busy timeout).  NULL for ":memory:". */
	sqlite3 *probe;
	pthread_mutex_t probe_lock;  /* held only for the two reads below */
	sqlite3_stmt *probe_dv, *probe_gen;
	int64_t probe_data_version;
	uint64_t probe_generation;
	uint64_t rows_read;          /* rows copied out by lists and lookups (/metrics) */
	/* The last write failed for want of space or an I/O error, and no
	 * commit has succeeded since (store_writable()). */
	bool unwritable;
	char unwritable_why[160];
};

/* ---- errors ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	return err;
}

/* A database-level failure: -EIO with SQLite's own words; -EBUSY when
 * another writer kept the lock past the busy timeout (worth retrying). */
static int db_fail(struct store *s, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return fail(s, -EBUSY, "%s: database is busy (another writer held it for %d ms)",
			    what, STORE_BUSY_TIMEOUT_MS);
	/* Not the database's fault but the disk's: say so until a commit
	 * goes through again (store_writable(), /healthz). */
	if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR ||
	    (rc & 0xff) == SQLITE_READONLY) {
		__atomic_store_n(&s->unwritable, true, __ATOMIC_RELAXED);
		snprintf(s->unwritable_why, sizeof(s->unwritable_why), "%s", sqlite3_errmsg(s->db));
		return fail(s, (rc & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO, "%s: %s", what,
			    sqlite3_errmsg(s->db));
	}
	return fail(s, -EIO, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* ---- statements ------------------------------------------------------ */

static sqlite3_stmt *stmt_get(struct store *s, enum stmt_id id)
{
	if (!s->stmt[id]) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[id], NULL) != SQLITE_OK) {
			db_fail(s, "prepare");
			return NULL;
		}
	}
	return s->stmt[id];
}

static void stmt_done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Run a statement that returns no rows. */
static int stmt_exec(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int r = 0;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_fail(s, what);
	stmt_done(st);
	return r;
}

static int exec_id(struct store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, id);
	int r;
	if (!st)
		return -EIO;
	r = stmt_exec(s, st, what);
	if (r == 0 && id == ST_COMMIT)
		__atomic_store_n(&s->unwritable, false, __ATOMIC_RELAXED);
	return r;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	/* Truncates to len - 1 bytes as snprintf would, without its cost
	 * (several columns of every row a decision reads). */
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

/* Step a one-row query whose parameters are bound, reading the row with rd
 * into out; resets st.  No row is -ENOENT "no KIND WHAT"; a database
 * failure says "find KIND". */
static int row_one(struct store *s, sqlite3_stmt *st, void (*rd)(sqlite3_stmt *, void *),
		   void *out, const char *kind, const char *what)
{
	char find[32];
	int rc = sqlite3_step(st), r = 0;
	if (rc == SQLITE_ROW)
		rd(st, out);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no %s %s", kind, what);
	else {
		snprintf(find, sizeof(find), "find %s", kind);
		r = db_fail(s, find);
	}
	stmt_done(st);
	return r;
}

/* A one-row lookup under the lock, ?1 bound to the text key or, when key
 * is NULL, to num.  Results as for row_one(). */
static int find_one(struct store *s, enum stmt_id id, const char *key, int64_t num,
		    void (*rd)(sqlite3_stmt *, void *), void *out, const char *kind,
		    const char *what)
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, id);
	if (st) {
		if (key)
			bind_text(st, 1, key);
		else
			sqlite3_bind_int64(st, 1, num);
		r = row_one(s, st, rd, out, kind, what);
		if (r == 0)
			__atomic_add_fetch(&s->rows_read, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- transactions and the generation ---------------------------------- */

static int tx_begin(struct store *s)
{
	/* In a bulk load each write is a savepoint inside the one big
	 * transaction, so a failed row undoes only itself. */
	if (s->bulk)
		return exec_id(s, ST_SAVEPOINT, "savepoint");
	if (s->read_tx)
		return fail(s, -EINVAL, "a write inside a read snapshot (store_read_begin)");
	return exec_id(s, ST_BEGIN, "begin transaction");
}

static void tx_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_stmt *st = stmt_get(s, ST_ROLLBACK);
		if (st) {
			sqlite3_step(st);
			stmt_done(st);
		}
	}
}

/* Bump the generation and commit; rolls back on failure. */
static int tx_commit_bump(struct store *s)
{
	sqlite3_stmt *st = stmt_get(s, ST_GEN_BUMP);
	uint64_t gen;
	int r = -EIO;
	if (!st)
		goto fail;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(s, "bump generation");
		stmt_done(st);
		goto fail;
	}
	gen = (uint64_t)sqlite3_column_int64(st, 0);
	stmt_done(st);
	r = exec_id(s, ST_COMMIT, "commit");
	if (r < 0)
		goto fail;
	s->generation = gen;
	return 0;
fail:
	tx_rollback(s);
	/* -ENOSPC stays itself (a full disk, 507 on the API); busy or any
	 * other failure is the -EIO it always was */
	return r == -ENOSPC ? r : -EIO;
}

/* End a write: commit with a bump when r >= 0, else roll back.  Keeps r. */
static int tx_end(struct store *s, int r)
{
	if (s->bulk) {
		if (r < 0)
			exec_id(s, ST_ROLLBACK_TO, "rollback to savepoint");
		int c = exec_id(s, ST_RELEASE, "release savepoint");
		if (r >= 0 && c == 0)
			s->bulk_dirty = true;
		return r < 0 ? r : (c < 0 ? c : r);
	}
	if (r < 0) {
		tx_rollback(s);
		return r;
	}
	int c = tx_commit_bump(s);
	return c < 0 ? c : r;
}

static int read_data_version(struct store *s, int64_t *out)
{
	sqlite3_stmt *st = stmt_get(s, ST_DATA_VERSION);
	int r = 0;
	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		r = db_fail(s, "read data_version");
	stmt_done(st);
	return r;
}

static int read_generation(struct store *s)
{
	sqlite3_stmt *st = stmt_get(s, ST_GEN_READ);
	int r = 0;
	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		s->generation = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = db_fail(s, "read generation");
	stmt_done(st);
	return r;
}

uint64_t store_generation(struct store *s)
{
	int64_t dv;
	uint64_t gen;
	pthread_mutex_lock(&s->lock);
	/* On a read error keep the last value: the next call tries again. */
	if (read_data_version(s, &dv) == 0 && dv != s->data_version) {
		if (read_generation(s) == 0)
			s->data_version = dv;
	}
	gen = s->generation;
	pthread_mutex_unlock(&s->lock);
	return gen;
}

/* One read on the probe connection: 0, -EBUSY (locked, busy timeout 0),
 * -EIO. */
static int probe_step(sqlite3_stmt *st, int64_t *out)
{
	int rc = sqlite3_step(st), r = 0;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		r = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? -EBUSY : -EIO;
	sqlite3_reset(st);
	return r;
}

int store_generation_peek(struct store *s, uint64_t *out)
{
	int64_t dv, gen;
	int r;
	if (!s->probe) {
		/* ":memory:" has one connection: only when no call is running. */
		if (pthread_mutex_trylock(&s->lock) != 0)
			return -EBUSY;
		pthread_mutex_unlock(&s->lock);
		*out = store_generation(s);
		return 0;
	}
	pthread_mutex_lock(&s->probe_lock);
	r = probe_step(s->probe_dv, &dv);
	if (r == 0 && dv != s->probe_data_version) {
		r = probe_step(s->probe_gen, &gen);
		if (r == 0) {
			s->probe_data_version = dv;
			s->probe_generation = (uint64_t)gen;
		}
	}
	*out = s->probe_generation;
	pthread_mutex_unlock(&s->probe_lock);
	return r;
}

static int open_probe(struct store *s, const char *path)
{
	int64_t v;
	if (sqlite3_open_v2(path, &s->probe,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK)
		return fail(s, -EIO, "%s: cannot open a second connection: %s", path,
			    s->probe ? sqlite3_errmsg(s->probe) : "out of memory");
	/* Busy timeout 0: a peek that would wait says -EBUSY instead. */
	sqlite3_busy_timeout(s->probe, 0);
	if (sqlite3_prepare_v2(s->probe, stmt_sql[ST_DATA_VERSION], -1, &s->probe_dv, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(s->probe, stmt_sql[ST_GEN_READ], -1, &s->probe_gen, NULL) != SQLITE_OK)
		return fail(s, -EIO, "%s: prepare generation probe: %s", path,
			    sqlite3_errmsg(s->probe));
	/* Start from "unknown", so the first peek reads the row. */
	s->probe_data_version = -1;
	if (probe_step(s->probe_dv, &v) == 0 && probe_step(s->probe_gen, &v) == 0)
		s->probe_generation = (uint64_t)v;
	return 0;
}

/* ---- open, migrate, close --------------------------------------------- */

static int migrate(struct store *s)
{
	const int target = (int)ARRAY_SIZE(migrations);
	for (;;) {
		sqlite3_stmt *st;
		int version = -1;
		char *msg = NULL;
		char pragma[64];

		/* Read the version inside the write transaction, so two
		 * processes opening a new file do not both migrate. */
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(s, "migrate: begin");
		if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				version = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
		}
		if (version < 0) {
			int r = db_fail(s, "migrate: read user_version");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
		if (version >= target) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			if (version > target)
				return fail(s, -EINVAL,
					    "%s: schema version %d is newer than this pxed knows (%d); "
					    "upgrade pxed", s->path, version, target);
			return 0;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (sqlite3_exec(s->db, migrations[version], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			fail(s, -EIO, "%s: migration to schema version %d failed: %s", s->path,
			     version + 1, msg ? msg : sqlite3_errmsg(s->db));
			sqlite3_free(msg);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -EIO;
		}
	}
}

static int pragma_text(struct store *s, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;
	int r = -EIO;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, sql);
	if (sqlite3_step(st) == SQLITE_ROW) {
		col_text(st, 0, out, len);
		r = 0;
	} else
		r = db_fail(s, sql);
	sqlite3_finalize(st);
	return r;
}

static int open_sqlite(struct store *s, const char *path)
{
	char mode[16];
	int r;
	bool memory = strcmp(path, ":memory:") == 0;

	if (!memory) {
		/* The daemon creates its StateDir; a missing directory here is a
		 * configuration mistake worth naming, not something to paper over. */
		char dir[4096];
		struct stat sb;
		const char *slash = strrchr(path, '/');
		if (slash) {
			size_t n = (size_t)(slash - path);
			if (n == 0)
				n = 1; /* "/file" lives in "/" */
			if (n >= sizeof(dir))
				return fail(s, -EINVAL, "store path too long: %s", path);
			memcpy(dir, path, n);
			dir[n] = '\0';
			if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
				return fail(s, -ENOENT,
					    "store directory %s does not exist (create the StateDir first)",
					    dir);
		}
	}

	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
				    SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		if (!s->db)
			return fail(s, -ENOMEM, "sqlite: out of memory");
		return fail(s, -EIO, "%s: cannot open: %s", path, sqlite3_errmsg(s->db));
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);

	if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, -EIO, "%s: enable foreign keys: %s", path, sqlite3_errmsg(s->db));
	r = pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (r < 0)
		return fail(s, r, "%s: not a usable SQLite database: %s", path,
			    sqlite3_errmsg(s->db));
	if (!memory && strcmp(mode, "wal") != 0)
		return fail(s, -EIO, "%s: cannot switch to WAL mode (journal mode is %s)", path,
			    mode);
	/* FULL: in WAL mode every commit is synced before it returns, so a
	 * hand-out is on disk before its script is sent, and an API change
	 * before its 2xx -- a power cut loses neither (NORMAL could lose the
	 * last commits).  Events and last-seen times are written in batches
	 * from memory: those are what a crash or a power cut may lose. */
	sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);

	r = migrate(s);
	if (r < 0)
		return r;
	r = read_data_version(s, &s->data_version);
	if (r < 0)
		return r;
	r = read_generation(s);
	if (r < 0 || memory)
		return r;
	return open_probe(s, path);
}

int store_open(const char *url, struct store **out)
{
	struct store *s;
	int r;

	*out = NULL;
	if (!url || strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0') {
		snprintf(last_err, sizeof(last_err),
			 "unsupported store URL '%s' (expected sqlite:PATH)", url ? url : "");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(last_err, sizeof(last_err), "out of memory");
		return -ENOMEM;
	}
	/* Recursive: store_read_begin() keeps it across the calls it groups. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&s->probe_lock, NULL);
	if (str_copy(s->path, sizeof(s->path), url + 7) < 0) {
		snprintf(last_err, sizeof(last_err), "store path too long");
		store_close(s);
		return -EINVAL;
	}
	r = open_sqlite(s, s->path);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db)
		sqlite3_close(s->db);
	sqlite3_finalize(s->probe_dv);
	sqlite3_finalize(s->probe_gen);
	if (s->probe)
		sqlite3_close(s->probe);
	pthread_mutex_destroy(&s->probe_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- devices ---------------------------------------------------------- */

static void device_read(sqlite3_stmt *st, struct store_device *d)
{
	char buf[64];
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, d->name, sizeof(d->name));
	col_text(st, 2, buf, sizeof(buf));
	mac_parse(buf, d->mac);
	if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
		col_text(st, 3, buf, sizeof(buf));
		d->has_guid = guid_parse(buf, d->guid) == 0;
	}
	d->arch = sqlite3_column_int(st, 4);
	d->last_seen = sqlite3_column_int64(st, 5);
	d->created = sqlite3_column_int64(st, 6);
	d->discovered = sqlite3_column_int(st, 7) != 0;
}

static void device_rd(sqlite3_stmt *st, void *p) { device_read(st, p); }

/* Validate d and write its row: an INSERT (update = false, sets d->id) or
 * an UPDATE of name, MAC and GUID by d->id.  Inside the caller's lock and
 * transaction. */
static int device_write_row(struct store *s, struct store_device *d, bool update)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN] = "";
	sqlite3_stmt *st;
	int r = 0, rc;

	mac_format(d->mac, mac);
	if (d->has_guid)
		guid_format(d->guid, guid);
	if (d->created == 0)
		d->created = unix_now();
	if (d->arch < -1 || d->arch > 0xffff)
		d->arch = -1;

	st = stmt_get(s, update ? ST_DEVICE_UPDATE
				: d->discovered ? ST_DEVICE_ADD_DISCOVERED : ST_DEVICE_ADD);
	if (!st)
		return -EIO;
	bind_text(st, 1, d->name);
	bind_text(st, 2, mac);
	if (d->has_guid)
		bind_text(st, 3, guid);
	if (update) {
		sqlite3_bind_int64(st, 4, d->id);
	} else {
		sqlite3_bind_int(st, 4, d->arch);
		sqlite3_bind_int64(st, 5, d->last_seen);
		sqlite3_bind_int64(st, 6, d->created);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		if (!update)
			d->id = sqlite3_last_insert_rowid(s->db);
		else if (sqlite3_changes(s->db) == 0)
			r = fail(s, -ENOENT, "no device with id %lld", (long long)d->id);
	} else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE) {
		const char *m = sqlite3_errmsg(s->db);
		if (strstr(m, "devices.mac"))
			r = fail(s, -EEXIST, "a device with MAC %s already exists", mac);
		else if (strstr(m, "devices.guid"))
			r = fail(s, -EEXIST, "a device with GUID %s already exists", guid);
		else
			r = fail(s, -EEXIST, "a device named '%s' already exists", d->name);
	} else
		r = db_fail(s, update ? "update device" : "add device");
	stmt_done(st);
	return r;
}

static int device_write(struct store *s, struct store_device *d, bool update)
{
	int r = tx_begin(s);
	if (r < 0)
		return r;
	return tx_end(s, device_write_row(s, d, update));
}

int store_device_add(struct store *s, struct store_device *d)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = device_write(s, d, false);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_update(struct store *s, struct store_device *d)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = device_write(s, d, true);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_by_name(struct store *s, const char *name, struct store_device *out)
{
	char what[96];
	snprintf(what, sizeof(what), "with name '%.64s'", name);
	return find_one(s, ST_DEVICE_BY_NAME, name, 0, device_rd, out, "device", what);
}

int store_device_by_mac(struct store *s, const uint8_t mac[MAC_LEN], struct store_device *out)
{
	char m[MAC_STR_LEN], what[40];
	mac_format(mac, m);
	snprintf(what, sizeof(what), "with MAC %s", m);
	return find_one(s, ST_DEVICE_BY_MAC, m, 0, device_rd, out, "device", what);
}

int store_device_by_guid(struct store *s, const uint8_t guid[GUID_LEN], struct store_device *out)
{
	char g[GUID_STR_LEN], what[56];
	guid_format(guid, g);
	snprintf(what, sizeof(what), "with GUID %s", g);
	return find_one(s, ST_DEVICE_BY_GUID, g, 0, device_rd, out, "device", what);
}

int store_device_by_mac_guid(struct store *s, const uint8_t mac[MAC_LEN],
			     const uint8_t *guid, struct store_device *by_mac, int *rm,
			     struct store_device *by_guid, int *rg)
{
	char m[MAC_STR_LEN], g[GUID_STR_LEN];
	struct store_device d;
	sqlite3_stmt *st;
	int rc, r = 0;

	*rm = *rg = -ENOENT;
	mac_format(mac, m);
	if (guid)
		guid_format(guid, g);
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_DEVICE_BY_MAC_GUID);
	if (!st) {
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, m, -1, SQLITE_STATIC);
	if (guid)
		sqlite3_bind_text(st, 2, g, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		device_read(st, &d);
		/* The row's own columns say which arm found it (both, when one
		 * device holds the MAC and the GUID). */
		if (*rm < 0 && !memcmp(d.mac, mac, MAC_LEN)) {
			*by_mac = d;
			*rm = 0;
		}
		if (guid && *rg < 0 && d.has_guid && !memcmp(d.guid, guid, GUID_LEN)) {
			*by_guid = d;
			*rg = 0;
		}
	}
	if (rc != SQLITE_DONE)
		r = db_fail(s, "find device");
	stmt_done(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_by_id(struct store *s, int64_t id, struct store_device *out)
{
	char what[48];
	snprintf(what, sizeof(what), "with id %lld", (long long)id);
	return find_one(s, ST_DEVICE_BY_ID, NULL, id, device_rd, out, "device", what);
}

int store_device_seen(struct store *s, int64_t id, int arch, int64_t when)
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_DEVICE_SEEN);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, arch > 0xffff ? -1 : arch);
		sqlite3_bind_int64(st, 3, when);
		r = stmt_exec(s, st, "record device seen");
		if (r == 0 && sqlite3_changes(s->db) == 0)
			r = fail(s, -ENOENT, "no device with id %lld", (long long)id);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_seen_many(struct store *s, const struct store_seen *v, size_t n)
{
	sqlite3_stmt *st;
	int r = 0, written = 0;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_DEVICE_SEEN);
	if (!st) {
		r = -EIO;
		goto out;
	}
	/* No generation bump: a last-seen time never changes a decision. */
	if (!s->bulk && (r = tx_begin(s)) < 0)
		goto out;
	for (size_t i = 0; r == 0 && i < n; i++) {
		sqlite3_bind_int64(st, 1, v[i].device_id);
		sqlite3_bind_int(st, 2, v[i].arch > 0xffff ? -1 : v[i].arch);
		sqlite3_bind_int64(st, 3, v[i].t);
		r = stmt_exec(s, st, "record devices seen");
		if (r == 0)
			written += sqlite3_changes(s->db) > 0;
	}
	if (!s->bulk) {
		if (r == 0)
			r = exec_id(s, ST_COMMIT, "commit devices seen");
		if (r < 0)
			tx_rollback(s);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : written;
}

/* Delete by name after checking nothing refers to the row. */
static int delete_checked(struct store *s, enum stmt_id find, enum stmt_id in_use,
			  enum stmt_id del, const char *kind, const char *name)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	int r, rc;

	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	st = stmt_get(s, find);
	if (!st) {
		r = -EIO;
		goto end;
	}
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no %s named '%.64s'", kind, name);
	else
		r = db_fail(s, "delete");
	stmt_done(st);
	if (r < 0)
		goto end;

	st = stmt_get(s, in_use);
	if (!st) {
		r = -EIO;
		goto end;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = fail(s, -EBUSY, "%s '%.64s' is used by deployment '%s'; delete that first",
			 kind, name, (const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		r = db_fail(s, "delete");
	stmt_done(st);
	if (r < 0)
		goto end;

	st = stmt_get(s, del);
	if (!st) {
		r = -EIO;
		goto end;
	}
	sqlite3_bind_int64(st, 1, id);
	r = stmt_exec(s, st, "delete");
end:
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_delete(struct store *s, const char *name)
{
	return delete_checked(s, ST_DEVICE_BY_NAME, ST_DEVICE_IN_USE, ST_DEVICE_DELETE, "device",
			      name);
}

/* Lists: rows are copied out under the lock, callbacks run after it. */
struct rows {
	void *v;
	size_t n, cap, size;
};

static void *rows_push(struct rows *rs)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		void *v = realloc(rs->v, cap * rs->size);
		if (!v)
			return NULL;
		rs->v = v;
		rs->cap = cap;
	}
	return (char *)rs->v + rs->size * rs->n++;
}

/* Step st to the end, reading each row with rd into rs.  Resets st. */
static int rows_collect(struct store *s, sqlite3_stmt *st, struct rows *rs,
			void (*rd)(sqlite3_stmt *, void *))
{
	int rc, r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *slot = rows_push(rs);
		if (!slot) {
			r = fail(s, -ENOMEM, "out of memory listing rows");
			break;
		}
		rd(st, slot);
		__atomic_add_fetch(&s->rows_read, 1, __ATOMIC_RELAXED);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, "list");
	stmt_done(st);
	return r;
}

/* Run list statement id under the lock, ?1..?nargs bound to args, and
 * collect its rows with rd into rs. */
static int rows_list(struct store *s, enum stmt_id id, const int64_t *args, size_t nargs,
		     struct rows *rs, void (*rd)(sqlite3_stmt *, void *))
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, id);
	if (st) {
		for (size_t i = 0; i < nargs; i++)
			sqlite3_bind_int64(st, (int)i + 1, args[i]);
		r = rows_collect(s, st, rs, rd);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* The end of every list, after the lock is released: hand the rows to cb
 * in order until it returns non-zero, free them, and give the list's
 * result (r when negative, else the number of rows read).  A macro
 * because each list's cb takes its own row type. */
#define rows_deliver(r, rs, type, cb, ctx)                                             \
	({                                                                             \
		for (size_t i_ = 0; (r) == 0 && i_ < (rs)->n; i_++)                    \
			if ((cb)((ctx), (const type *)(rs)->v + i_))                    \
				break;                                                 \
		free((rs)->v);                                                         \
		(r) < 0 ? (r) : (int)(rs)->n;                                          \
	})

int store_device_list(struct store *s, int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_device) };
	int r = rows_list(s, ST_DEVICE_LIST, NULL, 0, &rs, device_rd);
	return rows_deliver(r, &rs, struct store_device, cb, ctx);
}

int store_writable(struct store *s, char *why, size_t len)
{
	if (!__atomic_load_n(&s->unwritable, __ATOMIC_RELAXED))
		return 1;
	/* why: a racy copy at worst, of text that only says what failed */
	pthread_mutex_lock(&s->lock);
	snprintf(why, len, "%s", s->unwritable_why);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

uint64_t store_rows_read(struct store *s)
{
	return __atomic_load_n(&s->rows_read, __ATOMIC_RELAXED);
}

/* ---- images ----------------------------------------------------------- */

static void image_read(sqlite3_stmt *st, struct store_image *im)
{
	memset(im, 0, sizeof(*im));
	im->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, im->name, sizeof(im->name));
	col_text(st, 2, im->kernel, sizeof(im->kernel));
	col_text(st, 3, im->initrd, sizeof(im->initrd));
	col_text(st, 4, im->cmdline, sizeof(im->cmdline));
	col_text(st, 5, im->nbp, sizeof(im->nbp));
	im->created = sqlite3_column_int64(st, 6);
	col_text(st, 7, im->arch, sizeof(im->arch));
	col_text(st, 8, im->loader, sizeof(im->loader));
}

static void image_rd(sqlite3_stmt *st, void *p) { image_read(st, p); }

int store_image_add(struct store *s, struct store_image *im)
{
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if (im->created == 0)
		im->created = unix_now();
	st = stmt_get(s, ST_IMAGE_ADD);
	if (!st) {
		r = -EIO;
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	bind_text(st, 1, im->name);
	bind_text(st, 2, im->kernel);
	bind_text(st, 3, im->initrd);
	bind_text(st, 4, im->cmdline);
	bind_text(st, 5, im->nbp);
	sqlite3_bind_int64(st, 6, im->created);
	bind_text(st, 7, im->arch);
	bind_text(st, 8, im->loader);
	if (sqlite3_step(st) == SQLITE_DONE)
		im->id = sqlite3_last_insert_rowid(s->db);
	else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
		r = fail(s, -EEXIST, "an image named '%s' already exists", im->name);
	else
		r = db_fail(s, "add image");
	stmt_done(st);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_image_by_name(struct store *s, const char *name, struct store_image *out)
{
	char what[96];
	snprintf(what, sizeof(what), "with name '%.64s'", name);
	return find_one(s, ST_IMAGE_BY_NAME, name, 0, image_rd, out, "image", what);
}

int store_image_by_id(struct store *s, int64_t id, struct store_image *out)
{
	char what[48];
	snprintf(what, sizeof(what), "with id %lld", (long long)id);
	return find_one(s, ST_IMAGE_BY_ID, NULL, id, image_rd, out, "image", what);
}

int store_image_list(struct store *s, int (*cb)(void *ctx, const struct store_image *im), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_image) };
	int r = rows_list(s, ST_IMAGE_LIST, NULL, 0, &rs, image_rd);
	return rows_deliver(r, &rs, struct store_image, cb, ctx);
}

int store_image_delete(struct store *s, const char *name)
{
	return delete_checked(s, ST_IMAGE_BY_NAME, ST_IMAGE_IN_USE, ST_IMAGE_DELETE, "image", name);
}

/* ---- deployments ------------------------------------------------------ */

static void deployment_read(sqlite3_stmt *st, struct store_deployment *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, d->name, sizeof(d->name));
	d->image_id = sqlite3_column_int64(st, 2);
	col_text(st, 3, d->image_name, sizeof(d->image_name));
	d->device_id = sqlite3_column_int64(st, 4);
	col_text(st, 5, d->device_name, sizeof(d->device_name));
	d->purpose = sqlite3_column_int(st, 6) ? STORE_REQUIRED : STORE_AVAILABLE;
	d->enabled = sqlite3_column_int(st, 7) != 0;
	d->created = sqlite3_column_int64(st, 8);
	d->collection_id = sqlite3_column_int64(st, 9);
	col_text(st, 10, d->collection_name, sizeof(d->collection_name));
	d->unknown_arch = sqlite3_column_int(st, 11);
	d->available_from = sqlite3_column_int64(st, 12);
	d->expires = sqlite3_column_int64(st, 13);
	d->target = d->collection_id ? STORE_TARGET_COLLECTION
		    : d->unknown_arch >= 0 ? STORE_TARGET_UNKNOWN : STORE_TARGET_DEVICE;
}

static void deployment_rd(sqlite3_stmt *st, void *p) { deployment_read(st, p); }

/* A row of ST_DEPLOYMENTS_APPLICABLE: a deployment and its hand-out time. */
static void applicable_rd(sqlite3_stmt *st, void *p)
{
	struct store_deployment *d = p;
	deployment_read(st, d);
	d->handed_out_at = sqlite3_column_int64(st, 14);
	col_text(st, 15, d->image_arch, sizeof(d->image_arch));
}

/* Resolve id or name of a referenced row into both; inside the lock. */
static int resolve_ref(struct store *s, enum stmt_id by_id, enum stmt_id by_name, const char *kind,
		       int64_t *id, char *name, size_t name_len)
{
	sqlite3_stmt *st = stmt_get(s, *id ? by_id : by_name);
	int rc, r = 0;
	if (!st)
		return -EIO;
	if (*id)
		sqlite3_bind_int64(st, 1, *id);
	else
		bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		col_text(st, 1, name, name_len);
	} else if (rc == SQLITE_DONE) {
		if (*id)
			r = fail(s, -ENOENT, "no %s with id %lld", kind, (long long)*id);
		else
			r = fail(s, -ENOENT, "no %s named '%.64s'", kind, name);
	} else
		r = db_fail(s, "find reference");
	stmt_done(st);
	return r;
}

int store_deployment_add(struct store *s, struct store_deployment *dep)
{
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if (dep->created == 0)
		dep->created = unix_now();
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = resolve_ref(s, ST_IMAGE_BY_ID, ST_IMAGE_BY_NAME, "image", &dep->image_id,
			dep->image_name, sizeof(dep->image_name));
	if (r == 0 && dep->target == STORE_TARGET_DEVICE)
		r = resolve_ref(s, ST_DEVICE_BY_ID, ST_DEVICE_BY_NAME, "device", &dep->device_id,
				dep->device_name, sizeof(dep->device_name));
	if (r == 0 && dep->target == STORE_TARGET_COLLECTION)
		r = resolve_ref(s, ST_COLLECTION_BY_ID, ST_COLLECTION_FIND, "collection",
				&dep->collection_id, dep->collection_name,
				sizeof(dep->collection_name));
	if (dep->target != STORE_TARGET_UNKNOWN)
		dep->unknown_arch = -1;
	if (r == 0 && !(st = stmt_get(s, ST_DEPLOYMENT_ADD)))
		r = -EIO;
	if (r == 0) {
		bind_text(st, 1, dep->name);
		sqlite3_bind_int64(st, 2, dep->image_id);
		if (dep->target == STORE_TARGET_DEVICE)
			sqlite3_bind_int64(st, 3, dep->device_id);
		sqlite3_bind_int(st, 4, dep->purpose == STORE_REQUIRED);
		sqlite3_bind_int(st, 5, dep->enabled ? 1 : 0);
		sqlite3_bind_int64(st, 6, dep->created);
		if (dep->target == STORE_TARGET_COLLECTION)
			sqlite3_bind_int64(st, 7, dep->collection_id);
		if (dep->target == STORE_TARGET_UNKNOWN)
			sqlite3_bind_int(st, 8, dep->unknown_arch);
		sqlite3_bind_int64(st, 9, dep->available_from);
		sqlite3_bind_int64(st, 10, dep->expires);
		if (sqlite3_step(st) == SQLITE_DONE)
			dep->id = sqlite3_last_insert_rowid(s->db);
		else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
			r = fail(s, -EEXIST, "a deployment named '%s' already exists", dep->name);
		else
			r = db_fail(s, "add deployment");
		stmt_done(st);
	}
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_deployment_by_name(struct store *s, const char *name, struct store_deployment *out)
{
	char what[96];
	snprintf(what, sizeof(what), "named '%.64s'", name);
	return find_one(s, ST_DEPLOYMENT_BY_NAME, name, 0, deployment_rd, out, "deployment", what);
}

int store_deployment_list(struct store *s, int (*cb)(void *ctx, const struct store_deployment *d),
			  void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_deployment) };
	int r = rows_list(s, ST_DEPLOYMENT_LIST, NULL, 0, &rs, deployment_rd);
	return rows_deliver(r, &rs, struct store_deployment, cb, ctx);
}

int store_deployments_for_device(struct store *s, int64_t device_id,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_deployment) };
	int r;
	if (device_id <= 0) {
		pthread_mutex_lock(&s->lock);
		fail(s, -EINVAL, "no device id given");
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	r = rows_list(s, ST_DEPLOYMENTS_FOR_DEVICE, &device_id, 1, &rs, deployment_rd);
	return rows_deliver(r, &rs, struct store_deployment, cb, ctx);
}

/* A one-statement change by name inside a transaction with a bump. */
static int change_by_name(struct store *s, enum stmt_id id, const char *name, int arg,
			  const char *kind)
{
	sqlite3_stmt *st;
	int r;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, id);
	if (!st) {
		r = -EIO;
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	bind_text(st, 1, name);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int(st, 2, arg);
	r = stmt_exec(s, st, kind);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no %s named '%.64s'", kind, name);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_deployment_set_enabled(struct store *s, const char *name, bool enabled)
{
	return change_by_name(s, ST_DEPLOYMENT_SET_ENABLED, name, enabled ? 1 : 0, "deployment");
}

int store_deployment_delete(struct store *s, const char *name)
{
	return change_by_name(s, ST_DEPLOYMENT_DELETE, name, 0, "deployment");
}

/* ---- PXE history ------------------------------------------------------ */

/* Record one hand-out; inside the caller's lock and transaction.  1 when
 * this call recorded it, 0 when it was already recorded (by another
 * server sharing the database, answering the same machine). */
static int handout_row(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when)
{
	sqlite3_stmt *st = stmt_get(s, ST_HANDOUT_RECORD);
	int r = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, deployment_id);
	sqlite3_bind_int64(st, 3, when);
	if (sqlite3_step(st) == SQLITE_DONE)
		r = sqlite3_changes(s->db) > 0;
	else {
		if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			r = fail(s, -ENOENT, "no device %lld or deployment %lld to record a hand-out for",
				 (long long)device_id, (long long)deployment_id);
		else
			r = db_fail(s, "record hand-out");
	}
	stmt_done(st);
	return r;
}

int store_handout_record(struct store *s, int64_t device_id, int64_t deployment_id, int64_t when)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r == 0)
		r = tx_end(s, handout_row(s, device_id, deployment_id, when));
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_handout_get(struct store *s, int64_t device_id, int64_t deployment_id, int64_t *when)
{
	sqlite3_stmt *st;
	int r = -EIO, rc;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_HANDOUT_GET);
	if (st) {
		sqlite3_bind_int64(st, 1, device_id);
		sqlite3_bind_int64(st, 2, deployment_id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (when)
				*when = sqlite3_column_int64(st, 0);
			r = 1;
		} else if (rc == SQLITE_DONE) {
			if (when)
				*when = 0;
			r = 0;
		} else
			r = db_fail(s, "read hand-out");
		stmt_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void handout_read(sqlite3_stmt *st, void *p)
{
	struct store_handout *h = p;
	h->device_id = sqlite3_column_int64(st, 0);
	h->deployment_id = sqlite3_column_int64(st, 1);
	h->handed_out_at = sqlite3_column_int64(st, 2);
}

int store_handout_list(struct store *s, int (*cb)(void *ctx, const struct store_handout *h),
		       void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_handout) };
	int r = rows_list(s, ST_HANDOUT_LIST, NULL, 0, &rs, handout_read);
	return rows_deliver(r, &rs, struct store_handout, cb, ctx);
}

int store_handout_clear_device(struct store *s, int64_t device_id)
{
	sqlite3_stmt *st;
	int r, n = 0;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_HANDOUT_CLEAR_DEVICE);
	if (!st) {
		r = -EIO;
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, device_id);
	r = stmt_exec(s, st, "clear hand-outs");
	if (r == 0)
		n = sqlite3_changes(s->db);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : n;
}

/* ---- events ----------------------------------------------------------- */

/* Bind and run ST_EVENT_ADD for one row; inside the lock. */
static int event_row(struct store *s, sqlite3_stmt *st, struct store_event *ev)
{
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN];
	int r;
	mac_format(ev->mac, mac);
	sqlite3_bind_int64(st, 1, ev->time_ms);
	bind_text(st, 2, mac);
	if (ev->has_guid) {
		guid_format(ev->guid, guid);
		bind_text(st, 3, guid);
	}
	sqlite3_bind_int(st, 4, ev->arch);
	sqlite3_bind_text(st, 5, ev->ifname, (int)strnlen(ev->ifname, sizeof(ev->ifname)),
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, ev->via, (int)strnlen(ev->via, sizeof(ev->via)), SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, ev->outcome, (int)strnlen(ev->outcome, sizeof(ev->outcome)),
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, ev->reason, (int)strnlen(ev->reason, sizeof(ev->reason)),
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 9, ev->device_id);
	sqlite3_bind_int64(st, 10, ev->deployment_id);
	sqlite3_bind_text(st, 11, ev->deployment_name,
			  (int)strnlen(ev->deployment_name, sizeof(ev->deployment_name)),
			  SQLITE_TRANSIENT);
	r = stmt_exec(s, st, "add event");
	if (r == 0)
		ev->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_event_add(struct store *s, struct store_event *ev)
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_EVENT_ADD);
	/* Autocommit: a single row, and no generation bump (events never
	 * change a decision). */
	if (st)
		r = event_row(s, st, ev);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void event_read(sqlite3_stmt *st, void *p)
{
	struct store_event *ev = p;
	char buf[64];
	memset(ev, 0, sizeof(*ev));
	ev->id = sqlite3_column_int64(st, 0);
	ev->time_ms = sqlite3_column_int64(st, 1);
	col_text(st, 2, buf, sizeof(buf));
	mac_parse(buf, ev->mac);
	if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
		col_text(st, 3, buf, sizeof(buf));
		ev->has_guid = guid_parse(buf, ev->guid) == 0;
	}
	ev->arch = sqlite3_column_int(st, 4);
	col_text(st, 5, ev->ifname, sizeof(ev->ifname));
	col_text(st, 6, ev->via, sizeof(ev->via));
	col_text(st, 7, ev->outcome, sizeof(ev->outcome));
	col_text(st, 8, ev->reason, sizeof(ev->reason));
	ev->device_id = sqlite3_column_int64(st, 9);
	ev->deployment_id = sqlite3_column_int64(st, 10);
	col_text(st, 11, ev->deployment_name, sizeof(ev->deployment_name));
}

int store_event_prune(struct store *s, int64_t before_ms)
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_EVENT_PRUNE);
	if (st) {
		sqlite3_bind_int64(st, 1, before_ms);
		r = stmt_exec(s, st, "prune events");
		if (r == 0)
			r = sqlite3_changes(s->db);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_event_cap(struct store *s, unsigned max_rows)
{
	sqlite3_stmt *st;
	int r = -EIO;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_EVENT_CAP);
	if (st) {
		sqlite3_bind_int64(st, 1, max_rows);
		r = stmt_exec(s, st, "cap events");
		if (r == 0)
			r = sqlite3_changes(s->db);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- targets: applicable deployments, windows --------------------------- */

int store_deployments_applicable(struct store *s, int64_t device_id, int arch_class,
				 int (*cb)(void *ctx, const struct store_deployment *d), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_deployment) };
	const int64_t args[] = { device_id, arch_class };
	int r;
	if (device_id < 0)
		return -EINVAL;
	r = rows_list(s, ST_DEPLOYMENTS_APPLICABLE, args, ARRAY_SIZE(args), &rs, applicable_rd);
	return rows_deliver(r, &rs, struct store_deployment, cb, ctx);
}

int store_deployment_set_window(struct store *s, const char *name, int64_t available_from,
				int64_t expires)
{
	sqlite3_stmt *st;
	int r;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_DEPLOYMENT_SET_WINDOW);
	if (!st) {
		r = -EIO;
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, available_from);
	sqlite3_bind_int64(st, 3, expires);
	r = stmt_exec(s, st, "deployment");
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no deployment named '%.64s'", name);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_device_add_discovered(struct store *s, struct store_device *d, int64_t deployment_id,
				int64_t when)
{
	int r;
	pthread_mutex_lock(&s->lock);
	d->discovered = true;
	if (d->last_seen == 0)
		d->last_seen = when;
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = device_write_row(s, d, false);
	if (r == 0 && deployment_id > 0 && (r = handout_row(s, d->id, deployment_id, when)) > 0)
		r = 0;
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- collections ---------------------------------------------------------- */

static void collection_read(sqlite3_stmt *st, void *p)
{
	struct store_collection *c = p;
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, c->name, sizeof(c->name));
	c->created = sqlite3_column_int64(st, 2);
	c->members = (unsigned)sqlite3_column_int64(st, 3);
}

int store_collection_add(struct store *s, struct store_collection *c)
{
	sqlite3_stmt *st;
	int r;
	pthread_mutex_lock(&s->lock);
	if (c->created == 0)
		c->created = unix_now();
	st = stmt_get(s, ST_COLLECTION_ADD);
	if (!st) {
		r = -EIO;
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	bind_text(st, 1, c->name);
	sqlite3_bind_int64(st, 2, c->created);
	if (sqlite3_step(st) == SQLITE_DONE) {
		c->id = sqlite3_last_insert_rowid(s->db);
		c->members = 0;
	} else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
		r = fail(s, -EEXIST, "a collection named '%s' already exists", c->name);
	else
		r = db_fail(s, "add collection");
	stmt_done(st);
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Look a collection up by name; inside the lock.  count: also how many
 * members it has (which scans them). */
static int collection_find(struct store *s, const char *name, struct store_collection *out,
			   bool count)
{
	sqlite3_stmt *st = stmt_get(s, count ? ST_COLLECTION_BY_NAME : ST_COLLECTION_FIND);
	char what[96];
	if (!st)
		return -EIO;
	if (!name)
		name = "";
	bind_text(st, 1, name);
	snprintf(what, sizeof(what), "named '%.64s'", name);
	return row_one(s, st, collection_read, out, "collection", what);
}

int store_collection_by_name(struct store *s, const char *name, struct store_collection *out)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = collection_find(s, name, out, true);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_collection_list(struct store *s,
			  int (*cb)(void *ctx, const struct store_collection *c), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_collection) };
	int r = rows_list(s, ST_COLLECTION_LIST, NULL, 0, &rs, collection_read);
	return rows_deliver(r, &rs, struct store_collection, cb, ctx);
}

int store_device_collections(struct store *s, int64_t device_id,
			     int (*cb)(void *ctx, const struct store_collection *c), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_collection) };
	int r;
	if (device_id <= 0)
		return -EINVAL;
	r = rows_list(s, ST_DEVICE_COLLECTIONS, &device_id, 1, &rs, collection_read);
	return rows_deliver(r, &rs, struct store_collection, cb, ctx);
}

int store_collection_delete(struct store *s, const char *name)
{
	return delete_checked(s, ST_COLLECTION_FIND, ST_COLLECTION_IN_USE, ST_COLLECTION_DELETE,
			      "collection", name);
}

/* Add (add = true) or remove a membership by names; bumps the generation
 * only when something changed. */
static int member_change(struct store *s, const char *collection, const char *device, bool add)
{
	struct store_collection c;
	int64_t dev_id = 0;
	char dev_name[64];
	sqlite3_stmt *st;
	int r, n = 0;

	pthread_mutex_lock(&s->lock);
	if (str_copy(dev_name, sizeof(dev_name), device ? device : "") < 0) {
		r = fail(s, -ENOENT, "no device named '%.64s'", device);
		goto out;
	}
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = collection_find(s, collection, &c, false);
	if (r == 0)
		r = resolve_ref(s, ST_DEVICE_BY_ID, ST_DEVICE_BY_NAME, "device", &dev_id, dev_name,
				sizeof(dev_name));
	if (r == 0 && !(st = stmt_get(s, add ? ST_MEMBER_ADD : ST_MEMBER_REMOVE)))
		r = -EIO;
	if (r == 0) {
		sqlite3_bind_int64(st, 1, c.id);
		sqlite3_bind_int64(st, 2, dev_id);
		r = stmt_exec(s, st, add ? "add member" : "remove member");
		if (r == 0)
			n = sqlite3_changes(s->db);
		if (r == 0 && !add && n == 0)
			r = fail(s, -ENOENT, "device '%s' is not in collection '%s'", dev_name, c.name);
	}
	if (r == 0 && n == 0) {
		/* Already a member: nothing changed, so no bump. */
		if (s->bulk) {
			exec_id(s, ST_RELEASE, "release savepoint");
		} else
			exec_id(s, ST_COMMIT, "commit");
		goto out;
	}
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : n;
}

int store_collection_add_device(struct store *s, const char *collection, const char *device)
{
	return member_change(s, collection, device, true);
}

int store_collection_remove_device(struct store *s, const char *collection, const char *device)
{
	return member_change(s, collection, device, false);
}

int store_collection_members(struct store *s, const char *collection,
			     int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_device) };
	struct store_collection c;
	sqlite3_stmt *st;
	int r;
	pthread_mutex_lock(&s->lock);
	r = collection_find(s, collection, &c, false);
	if (r == 0) {
		st = stmt_get(s, ST_MEMBERS);
		if (!st)
			r = -EIO;
		else {
			sqlite3_bind_int64(st, 1, c.id);
			r = rows_collect(s, st, &rs, device_rd);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rows_deliver(r, &rs, struct store_device, cb, ctx);
}

int store_handout_clear_collection(struct store *s, const char *collection)
{
	struct store_collection c;
	sqlite3_stmt *st;
	int r, n = 0;
	pthread_mutex_lock(&s->lock);
	r = tx_begin(s);
	if (r < 0)
		goto out;
	r = collection_find(s, collection, &c, false);
	if (r == 0 && !(st = stmt_get(s, ST_HANDOUT_CLEAR_COLLECTION)))
		r = -EIO;
	if (r == 0) {
		sqlite3_bind_int64(st, 1, c.id);
		r = stmt_exec(s, st, "clear hand-outs");
		if (r == 0)
			n = sqlite3_changes(s->db);
	}
	r = tx_end(s, r);
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : n;
}

/* ---- events: batches and filters ---------------------------------------- */

int store_event_add_many(struct store *s, struct store_event *evs, size_t n)
{
	sqlite3_stmt *st;
	int r = 0;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_EVENT_ADD);
	if (!st) {
		r = -EIO;
		goto out;
	}
	/* One transaction for the batch, and no generation bump: events never
	 * change a decision. */
	if (!s->bulk) {
		r = exec_id(s, ST_BEGIN, "begin transaction");
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = event_row(s, st, &evs[i]);
	if (!s->bulk) {
		if (r == 0)
			r = exec_id(s, ST_COMMIT, "commit events");
		if (r < 0)
			tx_rollback(s);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : (int)n;
}

int store_event_find(struct store *s, const struct store_event_filter *f,
		     int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_event) };
	char mac[MAC_STR_LEN] = "";
	int64_t device_id = f->device_id;
	sqlite3_stmt *st;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (f->device_name && f->device_name[0]) {
		struct store_device dev;
		char what[96];
		st = stmt_get(s, ST_DEVICE_BY_NAME);
		if (!st) {
			r = -EIO;
			goto out;
		}
		bind_text(st, 1, f->device_name);
		snprintf(what, sizeof(what), "named '%.64s'", f->device_name);
		r = row_one(s, st, device_rd, &dev, "device", what);
		if (r < 0)
			goto out;
		device_id = dev.id;
	}
	if (f->has_mac)
		mac_format(f->mac, mac);
	st = stmt_get(s, ST_EVENT_FIND);
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, f->since_ms);
	sqlite3_bind_int64(st, 3, f->limit ? (int64_t)f->limit : -1);
	bind_text(st, 4, mac);
	r = rows_collect(s, st, &rs, event_read);
out:
	pthread_mutex_unlock(&s->lock);
	return rows_deliver(r, &rs, struct store_event, cb, ctx);
}

/* ---- bulk loads ------------------------------------------------------------ */

int store_bulk_begin(struct store *s)
{
	int r;
	pthread_mutex_lock(&s->lock);
	if (s->bulk)
		r = fail(s, -EBUSY, "a bulk load is already running on this handle");
	else if ((r = exec_id(s, ST_BEGIN, "begin bulk load")) == 0) {
		s->bulk = true;
		s->bulk_dirty = false;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_bulk_end(struct store *s, bool commit)
{
	int r = 0;
	pthread_mutex_lock(&s->lock);
	if (!s->bulk) {
		r = fail(s, -EINVAL, "no bulk load is running on this handle");
		goto out;
	}
	s->bulk = false;
	if (!commit)
		tx_rollback(s);
	else if (s->bulk_dirty)
		r = tx_commit_bump(s); /* one bump for the whole load */
	else if ((r = exec_id(s, ST_COMMIT, "commit bulk load")) < 0)
		tx_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- read snapshots ---------------------------------------------------- */

/* One read transaction for many lookups.  In autocommit mode every
 * statement opens and closes a read transaction of its own, which in WAL
 * mode is a handful of fcntl() locks on the database and its -shm file:
 * measured with bench/dhcp_bench.sh at 100,000 devices, those system calls
 * cost more than the lookups.  The handle's lock is held from begin to
 * end, so no other thread's statement lands inside the transaction. */
int store_read_begin(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->read_depth++ > 0 || s->bulk || !sqlite3_get_autocommit(s->db))
		return 0; /* nested, or already inside a transaction */
	int r = exec_id(s, ST_BEGIN_READ, "begin read");
	if (r < 0) {
		s->read_depth--;
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	s->read_tx = true;
	return 0;
}

void store_read_end(struct store *s)
{
	if (--s->read_depth == 0 && s->read_tx) {
		s->read_tx = false;
		/* A read transaction has nothing to lose: ROLLBACK cannot fail
		 * the way a COMMIT of writes can. */
		if (!sqlite3_get_autocommit(s->db))
			exec_id(s, ST_ROLLBACK, "end read");
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- installer reports ------------------------------------------------- */

static void report_read(sqlite3_stmt *st, void *p)
{
	struct store_report *r = p;
	char buf[64];
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, r->token, sizeof(r->token));
	r->device_id = sqlite3_column_int64(st, 2);
	col_text(st, 3, r->device_name, sizeof(r->device_name));
	col_text(st, 4, buf, sizeof(buf));
	mac_parse(buf, r->mac);
	r->deployment_id = sqlite3_column_int64(st, 5);
	col_text(st, 6, r->deployment_name, sizeof(r->deployment_name));
	r->handed_out_ms = sqlite3_column_int64(st, 7);
	r->state = (enum store_report_state)sqlite3_column_int(st, 8);
	col_text(st, 9, r->message, sizeof(r->message));
	r->updated_ms = sqlite3_column_int64(st, 10);
}

int store_report_create(struct store *s, struct store_report *rep)
{
	char mac[MAC_STR_LEN];
	sqlite3_stmt *del, *add;
	int r;

	mac_format(rep->mac, mac);
	pthread_mutex_lock(&s->lock);
	del = stmt_get(s, ST_REPORT_REPLACE);
	add = stmt_get(s, ST_REPORT_ADD);
	if (!del || !add) {
		r = -EIO;
		goto out;
	}
	/* No generation bump: a report never changes a PXE answer.  Inside a
	 * bulk load a savepoint, as every other write. */
	if ((r = exec_id(s, s->bulk ? ST_SAVEPOINT : ST_BEGIN, "begin")) < 0)
		goto out;
	sqlite3_bind_int64(del, 1, rep->deployment_id);
	sqlite3_bind_int64(del, 2, rep->device_id);
	bind_text(del, 3, mac);
	r = stmt_exec(s, del, "replace report");
	if (r == 0) {
		bind_text(add, 1, rep->token);
		sqlite3_bind_int64(add, 2, rep->device_id);
		bind_text(add, 3, rep->device_name);
		bind_text(add, 4, mac);
		sqlite3_bind_int64(add, 5, rep->deployment_id);
		bind_text(add, 6, rep->deployment_name);
		sqlite3_bind_int64(add, 7, rep->handed_out_ms);
		if (sqlite3_step(add) != SQLITE_DONE) {
			int ext = sqlite3_extended_errcode(s->db);
			if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
				r = fail(s, -ENOENT, "no deployment %lld to report on",
					 (long long)rep->deployment_id);
			else if (ext == SQLITE_CONSTRAINT_UNIQUE)
				r = fail(s, -EEXIST, "report token already in use");
			else
				r = db_fail(s, "add report");
		} else
			rep->id = sqlite3_last_insert_rowid(s->db);
		stmt_done(add);
	}
	if (s->bulk) {
		if (r < 0)
			exec_id(s, ST_ROLLBACK_TO, "rollback to savepoint");
		exec_id(s, ST_RELEASE, "release savepoint");
	} else {
		if (r == 0)
			r = exec_id(s, ST_COMMIT, "commit");
		if (r < 0)
			exec_id(s, ST_ROLLBACK, "rollback");
	}
	if (r == 0) {
		rep->state = STORE_REPORT_HANDED_OUT;
		rep->message[0] = '\0';
		rep->updated_ms = rep->handed_out_ms;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_report_by_token(struct store *s, const char *token, struct store_report *out)
{
	sqlite3_stmt *st;
	int r = -EIO, rc;

	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_REPORT_BY_TOKEN);
	if (st) {
		bind_text(st, 1, token);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			report_read(st, out);
			r = 0;
		} else if (rc == SQLITE_DONE)
			r = fail(s, -ENOENT, "no report with this token");
		else
			r = db_fail(s, "read report");
		stmt_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_report_update(struct store *s, int64_t id, enum store_report_state state,
			const char *message, int64_t when_ms)
{
	sqlite3_stmt *st;
	int r;

	if (!message)
		message = "";
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_REPORT_UPDATE);
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)state);
	bind_text(st, 3, message);
	sqlite3_bind_int64(st, 4, when_ms);
	r = stmt_exec(s, st, "update report");
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no report %lld (replaced by a newer boot?)", (long long)id);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_report_counts(struct store *s, int64_t deployment_id, struct store_report_counts *out)
{
	sqlite3_stmt *st;
	int r = -EIO, rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	st = stmt_get(s, ST_REPORT_COUNTS);
	if (st) {
		r = 0;
		sqlite3_bind_int64(st, 1, deployment_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int state = sqlite3_column_int(st, 0);
			unsigned n = (unsigned)sqlite3_column_int64(st, 1);
			out->handed_out += n; /* every boot handed out, whatever came since */
			if (state == STORE_REPORT_STARTED)
				out->started = n;
			else if (state == STORE_REPORT_SUCCEEDED)
				out->succeeded = n;
			else if (state == STORE_REPORT_FAILED)
				out->failed = n;
		}
		if (rc != SQLITE_DONE)
			r = db_fail(s, "count reports");
		stmt_done(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_report_list(struct store *s, int64_t deployment_id,
		      int (*cb)(void *ctx, const struct store_report *r), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_report) };
	int r = rows_list(s, ST_REPORT_LIST, &deployment_id, 1, &rs, report_read);
	return rows_deliver(r, &rs, struct store_report, cb, ctx);
}

/* ---- the console's queries -----------------------------------------------
 *
 * Kept apart from the prepared-statement table: each prepares its own
 * statement (a few tens of microseconds) and pages or counts in SQL, so
 * that a page of 100,000 devices or a million events costs what one page
 * costs. */

static int prepare_own(struct store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(s, "prepare a query");
	return 0;
}

/* "%q%" for LIKE, with LIKE's own characters escaped by '\'. */
static int like_pattern(const char *q, char *out, size_t len)
{
	size_t n = 0;
	if (len < 3)
		return -ENOBUFS;
	out[n++] = '%';
	for (; *q; q++) {
		if (n + 4 > len)
			return -ENOBUFS;
		if (*q == '%' || *q == '_' || *q == '\\')
			out[n++] = '\\';
		out[n++] = *q;
	}
	out[n++] = '%';
	out[n] = '\0';
	return 0;
}

#define DEVICE_MATCH                                                                   \
	" WHERE (?1 = '' OR name LIKE ?1 ESCAPE '\\' OR mac LIKE ?1 ESCAPE '\\'"       \
	" OR guid LIKE ?1 ESCAPE '\\')"

int store_device_search(struct store *s, const struct store_device_query *q, unsigned *total,
			int (*cb)(void *ctx, const struct store_device *d), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_device) };
	char pat[2 * 128 + 3] = "";
	sqlite3_stmt *st = NULL;
	int r;

	if (q->q && q->q[0] && like_pattern(q->q, pat, sizeof(pat)) < 0)
		return fail(s, -EINVAL, "search text is too long");
	pthread_mutex_lock(&s->lock);
	r = prepare_own(s, "SELECT COUNT(*) FROM devices" DEVICE_MATCH, &st);
	if (r == 0) {
		bind_text(st, 1, pat);
		if (sqlite3_step(st) == SQLITE_ROW)
			*total = (unsigned)sqlite3_column_int64(st, 0);
		else
			r = db_fail(s, "count devices");
		sqlite3_finalize(st);
	}
	if (r == 0)
		r = prepare_own(s, "SELECT " DEVICE_COLS " FROM devices" DEVICE_MATCH
				   " ORDER BY name LIMIT ?2 OFFSET ?3", &st);
	if (r == 0) {
		bind_text(st, 1, pat);
		sqlite3_bind_int64(st, 2, q->limit);
		sqlite3_bind_int64(st, 3, q->offset);
		r = rows_collect(s, st, &rs, device_rd);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rows_deliver(r, &rs, struct store_device, cb, ctx);
}

int store_event_count(struct store *s, int64_t since_ms, struct store_event_counts *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	r = prepare_own(s, "SELECT outcome, COUNT(*) FROM events WHERE time_ms >= ?1"
			   " GROUP BY outcome", &st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, since_ms);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *o = (const char *)sqlite3_column_text(st, 0);
			unsigned n = (unsigned)sqlite3_column_int64(st, 1);
			if (!o)
				continue;
			if (!strcmp(o, "boot"))
				out->boot += n;
			else if (!strcmp(o, "local"))
				out->local += n;
			else if (!strcmp(o, "ignore"))
				out->ignore += n;
		}
		if (rc != SQLITE_DONE)
			r = db_fail(s, "count events");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- variables (schema v5) ----------------------------------------------
 * Statements of their own, prepared per call: variables are read once per
 * boot script or answer file and written by an admin, never per packet. */

static const char *const var_level_names[] = { "global", "image", "collection", "deployment",
					       "device" };
static const char *const var_owner_sql[] = {
	NULL,
	"SELECT id FROM images WHERE name = ?1",
	"SELECT id FROM collections WHERE name = ?1",
	"SELECT id FROM deployments WHERE name = ?1",
	"SELECT id FROM devices WHERE name = ?1",
};

/* store_var_level_name(), store_var_level_parse() and store_var_builtin()
 * are pure helpers in store.c: the same for every backend. */

static int var_check_key(struct store *s, const char *key)
{
	_Static_assert(STORE_VAR_KEY_MAX == TEMPLATE_NAME_MAX, "one name rule");
	if (!key || !template_name_valid(key, strnlen(key, STORE_VAR_KEY_MAX + 1)))
		return fail(s, -EINVAL, "variable name must be 1-%d letters, digits and '_', "
					"not starting with a digit", STORE_VAR_KEY_MAX);
	return 0;
}

/* Prepare sql; -EIO with SQLite's words. */
static int var_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return db_fail(s, "prepare");
	}
	return 0;
}

/* The owner's id (0 for global), under the lock.  -ENOENT for no such
 * owner, -EINVAL for a name where none belongs (or none where one must). */
static int var_owner(struct store *s, enum store_var_level level, const char *owner, int64_t *id)
{
	sqlite3_stmt *st;
	int r, rc;

	*id = 0;
	if ((unsigned)level > STORE_VAR_DEVICE)
		return fail(s, -EINVAL, "variable level %d is not one of 0-4", (int)level);
	if (level == STORE_VAR_GLOBAL) {
		if (owner && *owner)
			return fail(s, -EINVAL, "global variables have no owner name");
		return 0;
	}
	if (!owner || !*owner)
		return fail(s, -EINVAL, "%s variables need the %s's name", var_level_names[level],
			    var_level_names[level]);
	if ((r = var_prepare(s, var_owner_sql[level], &st)) < 0)
		return r;
	bind_text(st, 1, owner);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no %s %s", var_level_names[level], owner);
	else
		r = db_fail(s, "find variable owner");
	sqlite3_finalize(st);
	return r;
}

int store_var_set(struct store *s, enum store_var_level level, const char *owner, const char *key,
		  const char *value)
{
	sqlite3_stmt *st = NULL;
	int64_t id, count = 0;
	int r;

	if ((r = var_check_key(s, key)) < 0)
		return r;
	if (store_var_builtin(key))
		return fail(s, -EINVAL, "'%s' is a built-in variable pxed sets for each boot", key);
	if (!value || strnlen(value, STORE_VAR_VALUE_MAX + 1) > STORE_VAR_VALUE_MAX)
		return fail(s, -EINVAL, "variable value is longer than %d bytes", STORE_VAR_VALUE_MAX);
	pthread_mutex_lock(&s->lock);
	/* a savepoint inside a bulk load (pxectl store copy), no bump */
	if ((r = s->bulk ? exec_id(s, ST_SAVEPOINT, "savepoint") : exec_id(s, ST_BEGIN, "begin")) < 0)
		goto out;
	if ((r = var_owner(s, level, owner, &id)) < 0)
		goto end;
	/* the cap counts the other keys: replacing a value is always allowed */
	if ((r = var_prepare(s, "SELECT COUNT(*) FROM vars WHERE level = ?1 AND owner_id = ?2"
				" AND key <> ?3", &st)) < 0)
		goto end;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, id);
	bind_text(st, 3, key);
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int64(st, 0);
	else
		r = db_fail(s, "count variables");
	sqlite3_finalize(st);
	st = NULL;
	if (r < 0)
		goto end;
	if (count >= STORE_VARS_PER_OWNER) {
		r = fail(s, -ENOSPC, "%s%s%s has %d variables already (the most one may have)",
			 var_level_names[level], id ? " " : "", id ? owner : "",
			 STORE_VARS_PER_OWNER);
		goto end;
	}
	if ((r = var_prepare(s, "INSERT INTO vars (level, owner_id, key, value)"
				" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (level, owner_id, key)"
				" DO UPDATE SET value = excluded.value", &st)) < 0)
		goto end;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, id);
	bind_text(st, 3, key);
	bind_text(st, 4, value);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "set variable");
	sqlite3_finalize(st);
end:
	if (s->bulk) {
		if (r < 0)
			exec_id(s, ST_ROLLBACK_TO, "rollback to savepoint");
		int c = exec_id(s, ST_RELEASE, "release savepoint");
		if (r == 0)
			r = c;
		goto out;
	}
	if (r == 0)
		r = exec_id(s, ST_COMMIT, "commit");
	if (r < 0)
		tx_rollback(s);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_row_counts(struct store *s, struct store_row_counts *out)
{
	sqlite3_stmt *st = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	r = prepare_own(s, "SELECT (SELECT COUNT(*) FROM devices), (SELECT COUNT(*) FROM images),"
			   " (SELECT COUNT(*) FROM deployments),"
			   " (SELECT COUNT(*) FROM collections)", &st);
	if (r == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			out->devices = (unsigned)sqlite3_column_int64(st, 0);
			out->images = (unsigned)sqlite3_column_int64(st, 1);
			out->deployments = (unsigned)sqlite3_column_int64(st, 2);
			out->collections = (unsigned)sqlite3_column_int64(st, 3);
		} else {
			r = db_fail(s, "count rows");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_var_unset(struct store *s, enum store_var_level level, const char *owner, const char *key)
{
	sqlite3_stmt *st;
	int64_t id;
	int r;

	if ((r = var_check_key(s, key)) < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	if ((r = var_owner(s, level, owner, &id)) < 0 ||
	    (r = var_prepare(s, "DELETE FROM vars WHERE level = ?1 AND owner_id = ?2 AND key = ?3",
			     &st)) < 0)
		goto out;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, id);
	bind_text(st, 3, key);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "unset variable");
	else if (sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no variable %s", key);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_event_recent_device(struct store *s, int64_t device_id, unsigned limit,
			      int (*cb)(void *ctx, const struct store_event *ev), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_event) };
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	/* events_device (device_id, id) gives these without a scan. */
	r = prepare_own(s, "SELECT * FROM (SELECT " EVENT_COLS " FROM events WHERE device_id = ?1"
			   " ORDER BY id DESC LIMIT ?2) ORDER BY id ASC", &st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, device_id);
		sqlite3_bind_int64(st, 2, limit);
		r = rows_collect(s, st, &rs, event_read);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rows_deliver(r, &rs, struct store_event, cb, ctx);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void var_read(sqlite3_stmt *st, void *p)
{
	struct store_var *v = p;
	memset(v, 0, sizeof(*v));
	v->level = (enum store_var_level)sqlite3_column_int(st, 0);
	v->owner_id = sqlite3_column_int64(st, 1);
	col_text(st, 2, v->owner, sizeof(v->owner));
	col_text(st, 3, v->key, sizeof(v->key));
	col_text(st, 4, v->value, sizeof(v->value));
}

/* Run a variables query (bound by bind) and hand its rows to cb. */
static int var_rows(struct store *s, const char *sql, const int64_t *args, size_t nargs,
		    int (*cb)(void *ctx, const struct store_var *v), void *ctx)
{
	struct rows rs = { .size = sizeof(struct store_var) };
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	r = var_prepare(s, sql, &st);
	if (r == 0) {
		for (size_t i = 0; i < nargs; i++)
			sqlite3_bind_int64(st, (int)i + 1, args[i]);
		r = rows_collect(s, st, &rs, var_read);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rows_deliver(r, &rs, struct store_var, cb, ctx);
}

/* The owner's name for each level, by a join per level. */
#define VAR_SELECT                                                                     \
	"SELECT v.level, v.owner_id, COALESCE(CASE v.level"                            \
	"  WHEN 1 THEN (SELECT name FROM images WHERE id = v.owner_id)"                \
	"  WHEN 2 THEN (SELECT name FROM collections WHERE id = v.owner_id)"           \
	"  WHEN 3 THEN (SELECT name FROM deployments WHERE id = v.owner_id)"           \
	"  WHEN 4 THEN (SELECT name FROM devices WHERE id = v.owner_id) END, ''),"    \
	" v.key, v.value FROM vars v"

int store_var_list(struct store *s, enum store_var_level level, const char *owner,
		   int (*cb)(void *ctx, const struct store_var *v), void *ctx)
{
	int64_t args[2] = { (int64_t)level, 0 };
	int r;

	pthread_mutex_lock(&s->lock);
	r = var_owner(s, level, owner, &args[1]);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	return var_rows(s, VAR_SELECT " WHERE v.level = ?1 AND v.owner_id = ?2 ORDER BY v.key",
			args, 2, cb, ctx);
}

int store_vars_applicable(struct store *s, int64_t device_id, int64_t deployment_id,
			  int64_t image_id, int (*cb)(void *ctx, const struct store_var *v),
			  void *ctx)
{
	int64_t args[3] = { device_id, deployment_id, image_id };
	/* Most specific first; among a device's collections, by name (byte
	 * order), so the first one wins a tie (docs/unattended.md). */
	return var_rows(s,
			"SELECT * FROM (" VAR_SELECT
			" WHERE (v.level = 4 AND v.owner_id = ?1 AND ?1 <> 0)"
			" OR (v.level = 3 AND v.owner_id = ?2 AND ?2 <> 0)"
			" OR (v.level = 2 AND ?1 <> 0 AND v.owner_id IN (SELECT collection_id"
			"     FROM collection_members WHERE device_id = ?1))"
			" OR (v.level = 1 AND v.owner_id = ?3 AND ?3 <> 0)"
			" OR v.level = 0)"
			" ORDER BY 1 DESC, 3 ASC, 4 ASC",
			args, 3, cb, ctx);
}

int store_handout_forget(struct store *s, int64_t device_id, int64_t deployment_id)
{
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&s->lock);
	if ((r = tx_begin(s)) < 0)
		goto out;
	r = var_prepare(s, "DELETE FROM pxe_history WHERE device_id = ?1 AND deployment_id = ?2",
			&st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, device_id);
		sqlite3_bind_int64(st, 2, deployment_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_fail(s, "forget a hand-out");
		sqlite3_finalize(st);
	}
	r = tx_end(s, r); /* bumps: the deployment is due again */
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}
/* ---- the backend's table ------------------------------------------------ */

const struct store_ops store_sqlite_ops = {
	.scheme = "sqlite",
	.parallel = 1, /* one connection, calls serialised */
	.open = store_open,
	.close = store_close,
	.generation = store_generation,
	.generation_peek = store_generation_peek,
	.device_add = store_device_add,
	.device_update = store_device_update,
	.device_by_name = store_device_by_name,
	.device_by_mac = store_device_by_mac,
	.device_by_guid = store_device_by_guid,
	.device_by_id = store_device_by_id,
	.device_seen = store_device_seen,
	.device_delete = store_device_delete,
	.device_list = store_device_list,
	.image_add = store_image_add,
	.image_by_name = store_image_by_name,
	.image_by_id = store_image_by_id,
	.image_list = store_image_list,
	.image_delete = store_image_delete,
	.deployment_add = store_deployment_add,
	.deployment_by_name = store_deployment_by_name,
	.deployment_set_enabled = store_deployment_set_enabled,
	.deployment_delete = store_deployment_delete,
	.deployment_list = store_deployment_list,
	.deployments_for_device = store_deployments_for_device,
	.deployments_applicable = store_deployments_applicable,
	.deployment_set_window = store_deployment_set_window,
	.collection_add = store_collection_add,
	.collection_by_name = store_collection_by_name,
	.collection_list = store_collection_list,
	.collection_delete = store_collection_delete,
	.collection_add_device = store_collection_add_device,
	.collection_remove_device = store_collection_remove_device,
	.collection_members = store_collection_members,
	.device_collections = store_device_collections,
	.device_add_discovered = store_device_add_discovered,
	.handout_record = store_handout_record,
	.handout_get = store_handout_get,
	.handout_list = store_handout_list,
	.handout_clear_device = store_handout_clear_device,
	.handout_clear_collection = store_handout_clear_collection,
	.event_add = store_event_add,
	.event_prune = store_event_prune,
	.event_add_many = store_event_add_many,
	.event_find = store_event_find,
	.report_create = store_report_create,
	.report_by_token = store_report_by_token,
	.report_update = store_report_update,
	.report_counts = store_report_counts,
	.report_list = store_report_list,
	.bulk_begin = store_bulk_begin,
	.bulk_end = store_bulk_end,
	.device_by_mac_guid = store_device_by_mac_guid,
	.device_seen_many = store_device_seen_many,
	.writable = store_writable,
	.rows_read = store_rows_read,
	.handout_forget = store_handout_forget,
	.event_cap = store_event_cap,
	.read_begin = store_read_begin,
	.read_end = store_read_end,
	.var_set = store_var_set,
	.var_unset = store_var_unset,
	.var_list = store_var_list,
	.vars_applicable = store_vars_applicable,
	.device_search = store_device_search,
	.event_count = store_event_count,
	.row_counts = store_row_counts,
	.event_recent_device = store_event_recent_device,
};
