/* store_migrate.c: what operators run through creditctl: migrations, the
 * sweep's lock and exports (the invariant checker is ledger_verify.c).
 * Never called on the request path.
 *
 * Migrations are sql/NNN_name.sql files applied in order, each recorded
 * with its SHA-256 in schema_migrations; a file that changed after it was
 * applied stops the run. What an export reads is copied into structs
 * creditctl provides, in pages it asks for one after the other: the
 * ledger never prints to stdout.
 *
 * Migrations bypass store_exec (mysql_real_query, mysql_store_result,
 * mysql_query): a migration file is a script of statements, procedures
 * included, and a CREATE PROCEDURE cannot be a prepared statement. The
 * script is split by sqlsplit.h and sent one statement at a time, on a
 * connection that accepts no multi-statement text: the text protocol is
 * safe here because the text is creditd's own files, never a request's. */
#include "store_db.h"
#include "keys.h"
#include "log.h"
#include "store_sqlsplit.h"
#include "timefmt.h"
#include <dirent.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

static int is_migration(const char *name)
{
	size_t n = strlen(name);
	return n > 8 && name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' &&
	       name[2] >= '0' && name[2] <= '9' && name[3] == '_' && strcmp(name + n - 4, ".sql") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && n < 4 * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
			buf = malloc((size_t)n + 1);
			if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
				buf[n] = '\0';
				*len = (size_t)n;
			} else {
				free(buf);
				buf = NULL;
			}
		}
	}
	fclose(f);
	return buf;
}

/* Sends one statement and drains every result it has (a CALL has more
 * than one). 0, or -1 with mysql_error() set. Text protocol on purpose
 * (see the top). */
static int run_statement(MYSQL *db, const struct sqlsplit_stmt *st)
{
	if (mysql_real_query(db, st->text, (unsigned long)st->len) != 0)
		return -1;
	int status;
	do {
		MYSQL_RES *res = mysql_store_result(db);
		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(db) != 0)
			return -1;	/* it had rows, and reading them failed */
		status = mysql_next_result(db);
	} while (status == 0);
	return status > 0 ? -1 : 0;
}

/* Runs migration name's statements in order, in the transaction that
 * records it (DDL commits on its own, as it always did). The whole file
 * is split before anything runs, so one that cannot be split applies
 * nothing. CD_OK, or an error said on stderr with the statement's line
 * and the start of its first line. */
static enum cd_err run_script(struct store *db, const char *name, const char *sql, size_t len)
{
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	int got;
	store_sqlsplit_init(&sp, sql, len);
	do
		got = store_sqlsplit_next(&sp, &st);
	while (got == 1);
	if (got < 0) {
		fprintf(stderr, "creditctl: migration %s cannot be split into statements (line %u: %s); nothing of it "
			"applied\n", name, sp.err_line, store_sqlsplit_strerror(sp.err));
		return CD_E_INVALID;
	}
	store_sqlsplit_init(&sp, sql, len);
	for (got = store_sqlsplit_next(&sp, &st); got == 1; got = store_sqlsplit_next(&sp, &st)) {
		if (run_statement(db->c->db, &st) == 0)
			continue;
		const char *nl = memchr(st.text, '\n', st.len);
		size_t first = nl != NULL ? (size_t)(nl - st.text) : st.len;
		fprintf(stderr, "creditctl: migration %s failed at line %u (%.*s%s): %s\n", name, st.line,
			(int)(first < LIMIT_MIGRATION_QUOTE_BYTES ? first : LIMIT_MIGRATION_QUOTE_BYTES), st.text,
			first > LIMIT_MIGRATION_QUOTE_BYTES ? "..." : "", mysql_error(db->c->db));
		return CD_E_INTERNAL;
	}
	return CD_OK;
}

/* 1 with hex set when name was applied, 0 when not, -1 when the database
 * did not say (a failure is not "not applied": that would apply it again). */
static int applied_checksum(struct store *db, const char *name, char *hex)
{
	int e;
	struct dbstmt *s = store_exec(db, "SELECT checksum FROM schema_migrations WHERE name = ?", &e, "s", name);
	if (s == NULL) {
		fprintf(stderr, "creditctl: cannot read schema_migrations for %s: %s\n", name, mysql_error(db->c->db));
		return -1;
	}
	int got = store_fetch(s);
	if (got < 0) {
		fprintf(stderr, "creditctl: cannot read schema_migrations for %s: %s\n", name, mysql_error(db->c->db));
		return -1;
	}
	if (got == 0)
		return 0;
	snprintf(hex, 65, "%s", store_str(s, 0));
	return 1;
}

/* Applies one migration not applied yet and records it in applied; with
 * check_only, applies nothing and records it there as pending. */
static enum cd_err apply_one(struct store *db, const char *dir, const char *name, int check_only,
			     struct store_migrated *applied)
{
	char path[4096], hex[65], old[65];
	unsigned char hash[32];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *sql = slurp(path, &len);
	if (sql == NULL) {
		fprintf(stderr, "creditctl: cannot read %s\n", path);
		return CD_E_INTERNAL;
	}
	keys_sha256(sql, len, hash);
	keys_hex(hash, hex);
	enum cd_err rc = CD_OK;
	int was = applied_checksum(db, name, old);
	if (was < 0) {
		rc = CD_E_INTERNAL;
		goto out;
	}
	if (was) {
		if (strcmp(old, hex) != 0) {
			fprintf(stderr, "creditctl: migration %s changed after it was applied (was %.12s, now %.12s); "
				"refusing to continue\n", name, old, hex);
			rc = CD_E_CONFLICT;
		}
		goto out;
	}
	if (check_only) {
		snprintf(applied->name[applied->n++], sizeof(applied->name[0]), "%s", name);
		goto out;
	}
	rc = run_script(db, name, sql, len);
	if (rc != CD_OK)
		goto out;
	rc = store_do(db, "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?, ?, ?)",
		   "migration record", "ssi", name, hex, timefmt_now());
	if (rc == CD_OK && mysql_commit(db->c->db) != 0)
		rc = CD_E_INTERNAL;
	if (rc == CD_OK)
		snprintf(applied->name[applied->n++], sizeof(applied->name[0]), "%s", name);
out:
	free(sql);
	return rc;
}

/* Reads the names of sqldir's migrations into names (malloc'd; the
 * caller frees the *n there are, also after a failure). More than
 * LIMIT_MIGRATIONS_MAX, or a name longer than LIMIT_MIGRATION_NAME_BYTES,
 * is refused: cutting the list short would apply part of the schema and
 * call it done. */
static enum cd_err migration_names(const char *sqldir, char **names, int *n)
{
	enum cd_err rc = CD_OK;
	*n = 0;
	DIR *d = opendir(sqldir);
	if (d == NULL) {
		fprintf(stderr, "creditctl: cannot open the migrations' directory %s: %s (name it with --sql-dir DIR or "
			"CREDITD_SQL_DIR)\n", sqldir, strerror(errno));
		return CD_E_INVALID;
	}
	for (;;) {
		struct dirent *de = readdir(d);
		if (de == NULL)
			break;
		if (!is_migration(de->d_name))
			continue;
		if (strlen(de->d_name) > LIMIT_MIGRATION_NAME_BYTES) {
			fprintf(stderr, "creditctl: %s holds a migration named longer than %d bytes (%.40s...); none "
				"applied\n", sqldir, LIMIT_MIGRATION_NAME_BYTES, de->d_name);
			rc = CD_E_INVALID;
			break;
		}
		if (*n == LIMIT_MIGRATIONS_MAX) {
			fprintf(stderr, "creditctl: %s holds more than %d migrations; none applied\n", sqldir,
				LIMIT_MIGRATIONS_MAX);
			rc = CD_E_INVALID;
			break;
		}
		names[*n] = strdup(de->d_name);
		if (names[*n] == NULL) {
			fprintf(stderr, "creditctl: out of memory reading %s\n", sqldir);
			rc = CD_E_INTERNAL;
			break;
		}
		(*n)++;
	}
	closedir(d);
	return rc;
}

/* ---- named locks ----
 *
 * Named locks are the server's, not a database's, and one server may hold
 * many sites' databases (shared hosting): on it any user can take any
 * name. So every lock creditd takes is named creditd.<what>.<salt>.<database>,
 * the salt a random number kept in the database's settings (sql/041),
 * which only its users can read: a co-tenant can neither guess the name
 * nor hold this site's work up with it (docs/operations.md, "Upgrading";
 * docs/shared-hosting.md). Cut to 64 characters, within what MariaDB
 * takes as a lock's name: the salt comes before the database's name so
 * that the cut never drops it. tests/unit/test_named_locks.sh holds every
 * lock of the tree to this one name. */
static const char SQL_LOCK_TAKE[] = "SELECT GET_LOCK(LEFT(CONCAT('creditd.', ?, '.', ?, '.', DATABASE()), 64), ?)";
static const char SQL_LOCK_GIVE[] = "SELECT RELEASE_LOCK(LEFT(CONCAT('creditd.', ?, '.', ?, '.', DATABASE()), 64))";

/* The database's lock salt into salt (cap bytes): 1 when it has one, 0
 * when not yet (a database migrated before sql/041, or a new one with no
 * settings table at all: "" then), -1 when the database did not say. */
static int lock_salt(struct store *db, char *salt, size_t cap)
{
	int e;
	salt[0] = '\0';
	struct dbstmt *s = store_exec(db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
				      "DATABASE() AND TABLE_NAME = 'settings'", &e, "");
	if (s == NULL || store_fetch(s) != 1)
		return -1;
	if (store_i64(s, 0) == 0)
		return 0;
	s = store_exec(db, "SELECT value FROM settings WHERE name = 'lock_salt'", &e, "");
	int got = s != NULL ? store_fetch(s) : -1;
	if (got == 1 && !store_null(s, 0))
		snprintf(salt, cap, "%" PRId64, store_i64(s, 0));
	return got < 0 ? -1 : salt[0] != '\0';
}

/* GET_LOCK of creditd.<what>.<salt>.<database>, waiting up to
 * wait_seconds: 1 taken, 0 held by another session, -1 no answer (a
 * server without named locks, as Galera: ER_NOT_SUPPORTED_YET). */
static int lock_take(struct store *db, const char *what, const char *salt, int64_t wait_seconds)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_LOCK_TAKE, &e, "ssi", what, salt, wait_seconds);
	if (s == NULL || store_fetch(s) != 1 || store_null(s, 0))
		return -1;
	return store_i64(s, 0) == 1;
}

/* Gives back a lock lock_take took (one not held is given back as
 * nothing); the session's end would too. */
static void lock_give(struct store *db, const char *what, const char *salt)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_LOCK_GIVE, &e, "ss", what, salt);
	if (s != NULL)
		while (store_fetch(s) == 1)
			;
}

/* What a migrating run holds: the lock under the salt it found (salt ""
 * on a database not migrated to sql/041 yet), and whether it took the
 * salted one too once a migration of its made the salt. */
struct migrate_locks {
	char salt[32], later[32];
	int taken;			/* 1: lock_take answered; 0: no lock (Galera) */
};

/* One run at a time on a database (the package migrates on every host it
 * upgrades): the salted lock taken before anything is read, so a second
 * run waits and then finds the first's migrations applied. Galera has no
 * named locks: there a run goes on without, as the docs say to migrate
 * from one node. */
static enum cd_err migrate_lock(struct store *db, struct migrate_locks *m)
{
	*m = (struct migrate_locks){{0}, {0}, 0};
	int got = lock_salt(db, m->salt, sizeof(m->salt));
	got = got < 0 ? -1 : lock_take(db, "migrate", m->salt, LIMIT_MIGRATE_LOCK_SECONDS);
	if (got < 0) {
		fprintf(stderr, "creditctl: warning: no lock on the migrations (%s): run one creditctl migrate at a "
			"time\n", mysql_error(db->c->db));
		return CD_OK;
	}
	if (got == 0) {
		fprintf(stderr, "creditctl: another creditctl migrate has run for %d s; none applied\n",
			LIMIT_MIGRATE_LOCK_SECONDS);
		return CD_E_CONFLICT;
	}
	m->taken = 1;
	return CD_OK;
}

/* After each migration a run applied on a database that had no salt when
 * it started: once one made it (sql/041), the salted name is taken too,
 * so that a run starting from now on, which finds the salt and takes that
 * name, waits for this one. */
static enum cd_err migrate_lock_salted(struct store *db, struct migrate_locks *m)
{
	if (!m->taken || m->salt[0] != '\0' || m->later[0] != '\0')
		return CD_OK;
	char salt[sizeof(m->later)];
	int got = lock_salt(db, salt, sizeof(salt));
	if (got <= 0)
		return got < 0 ? CD_E_INTERNAL : CD_OK;
	got = lock_take(db, "migrate", salt, LIMIT_MIGRATE_LOCK_SECONDS);
	if (got != 1) {
		fprintf(stderr, "creditctl: another creditctl migrate holds the migrations' lock; stopped\n");
		return CD_E_CONFLICT;
	}
	memcpy(m->later, salt, sizeof(m->later));
	return CD_OK;
}

/* The locks go with the session; given back at once for the next run. */
static void migrate_unlock(struct store *db, const struct migrate_locks *m)
{
	if (!m->taken)
		return;
	lock_give(db, "migrate", m->salt);
	if (m->later[0] != '\0')
		lock_give(db, "migrate", m->later);
}

/* With check_only, whether schema_migrations exists (0: every migration is
 * pending); -1 when the database did not say. */
static int migrations_table(struct store *db)
{
	int e;
	struct dbstmt *s = store_exec(db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
					  "DATABASE() AND TABLE_NAME = 'schema_migrations'", &e, "");
	if (s == NULL || store_fetch(s) != 1)
		return -1;
	return store_i64(s, 0) > 0;
}

/* Whether a failed connect found no server to talk to (none listening,
 * gone, full or shutting down), rather than one that refused this user,
 * password or database: only the first is "unavailable" to a check. */
static int server_unreachable(int connect_errno)
{
	switch (connect_errno) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case ER_CON_COUNT_ERROR:
	case ER_SERVER_SHUTDOWN:
		return 1;
	default:
		return 0;
	}
}

/* The lock, then schema_migrations made: a migrating run's start. A check
 * creates nothing and takes no lock (the runtime user, which may do
 * neither, runs it): it only learns whether the table is there. */
static enum cd_err migrate_start(struct store *db, int check_only, int *table, struct migrate_locks *m)
{
	static const char create[] = "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(255) NOT NULL "
				     "PRIMARY KEY, checksum CHAR(64) NOT NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB";
	*table = 1;
	if (check_only && (*table = migrations_table(db)) < 0)
		return store_err(db, (int)mysql_errno(db->c->db), "schema_migrations");
	if (check_only)
		return CD_OK;
	enum cd_err rc = migrate_lock(db, m);
	if (rc == CD_OK && mysql_query(db->c->db, create) != 0)
		rc = store_err(db, (int)mysql_errno(db->c->db), "schema_migrations");
	return rc;
}

enum cd_err store_migrate(struct store *db, const char *sqldir, int check_only, struct store_migrated *applied)
{
	char *names[LIMIT_MIGRATIONS_MAX];
	int n = 0, table = 1;
	struct migrate_locks locks = {{0}, {0}, 0};
	applied->n = 0;
	db->connect_errno = 0;
	enum cd_err rc = store_ensure(db);
	if (rc == CD_E_UNAVAILABLE && check_only && !server_unreachable(db->connect_errno))
		return CD_E_INTERNAL;	/* a server that refused us: not "unavailable" */
	if (rc != CD_OK)
		return rc;
	rc = migrate_start(db, check_only, &table, &locks);
	if (rc == CD_OK)
		rc = migration_names(sqldir, names, &n);
	if (rc == CD_OK)
		qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		if (rc == CD_OK && !table)
			snprintf(applied->name[applied->n++], sizeof(applied->name[0]), "%s", names[i]);
		else if (rc == CD_OK)
			rc = apply_one(db, sqldir, names[i], check_only, applied);
		if (rc == CD_OK && !check_only)
			rc = migrate_lock_salted(db, &locks);
		free(names[i]);
	}
	if (!check_only)
		migrate_unlock(db, &locks);
	store_end_request(db);
	return rc;
}

/* ---- creditctl sweep ---- */

/* The sweep's lock (named as every lock: "named locks" above), so one
 * site's sweep never waits on another's, nor on a co-tenant's. */
enum cd_err store_sweep_lock(struct store *db)
{
	char salt[32];
	enum cd_err rc = store_ensure(db);
	if (rc != CD_OK)
		return rc;
	int got = lock_salt(db, salt, sizeof(salt));
	got = got < 0 ? -1 : lock_take(db, "sweep", salt, 0);
	if (got < 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "GET_LOCK: %s",
			 mysql_errno(db->c->db) != 0 ? mysql_error(db->c->db) : "no answer");
		rc = CD_E_INTERNAL;
	} else if (got == 0) {
		rc = CD_E_CONFLICT;
	}
	/* The lock is the session's: ending the transaction keeps it. */
	store_end_request(db);
	return rc;
}
