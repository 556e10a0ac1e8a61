/* ledger_console.c: the console's sessions in the database
 * (ledger_console.h; sql/064_console_sessions.sql). Only a session id's
 * SHA-256 is stored or looked up; nothing here sees an id or logs a
 * token. A session stands for an API key: opened only while the key is
 * live, found only while it still is (the look-up joins api_keys and
 * reads revoked_at and expires_at on every call, as the key's own look-up
 * does: ledger_keys.c), within its two limits (docs/operations.md,
 * "Console"). Its last call is noted at most once a
 * LIMIT_CONSOLE_SEEN_SECONDS, as a key's last use is: a write a minute,
 * not one per call. */
#include "ledger_int.h"
#include "ledger_console.h"
#include <stdio.h>
#include <string.h>

static const char SQL_OPEN[] = "INSERT INTO console_sessions (id_hash, key_id, csrf, created_at, last_seen_at) "
			       "SELECT ?, id, ?, ?, ? FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL "
			       "AND (expires_at IS NULL OR expires_at > ?)";
static const char SQL_FIND[] = "SELECT k.scopes, k.account_id, a.ext_id, k.member, k.expires_at, k.prefix, "
			       "s.csrf, s.created_at, s.last_seen_at FROM console_sessions s "
			       "JOIN api_keys k ON k.id = s.key_id LEFT JOIN accounts a ON a.id = k.account_id "
			       "WHERE s.id_hash = ? AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?) "
			       "AND s.created_at > ? AND s.last_seen_at > ?";
static const char SQL_SEEN[] = "UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?";
static const char SQL_CLOSE[] = "DELETE FROM console_sessions WHERE id_hash = ?";

static enum cd_err open_tx(struct store *db, const unsigned char id_hash[32], const unsigned char key_hash[32],
			   const char *csrf, int *opened)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_OPEN, &e, "bsiibi", id_hash, (size_t)32, csrf, db->now, db->now, key_hash,
				      (size_t)32, db->now);
	if (s == NULL)
		return store_err(db, e, "console session open");
	*opened = store_affected(s) > 0;
	return CD_OK;
}

enum cd_err ledger_console_open(struct store *db, const unsigned char id_hash[32], const unsigned char key_hash[32],
				const char *csrf)
{
	struct store_tx t;
	int opened = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, open_tx(db, id_hash, key_hash, csrf, &opened));
	return t.rc == CD_OK && !opened ? CD_E_UNAUTHORIZED : t.rc;
}

/* The row's key, as ledger_key_auth reads a key: a bound key whose
 * account is gone, and any scope but admin and read, open nothing. */
static enum cd_err find_row(const struct dbstmt *s, struct ledger_console_session *out)
{
	struct key_grant *g = &out->grant;
	g->scopes = (int)store_i64(s, 0) & (KEY_SCOPE_ADMIN | KEY_SCOPE_READ);
	g->expires_at = store_null(s, 4) ? 0 : store_i64(s, 4);
	if (!store_null(s, 1)) {
		g->account_id = store_i64(s, 1);
		snprintf(g->account, sizeof(g->account), "%s", store_str(s, 2) != NULL ? store_str(s, 2) : "");
		if (g->account[0] == '\0')
			g->scopes = 0;
	}
	if (store_copy(s, 3, g->member, sizeof(g->member), "") != 0 ||
	    store_copy(s, 5, out->key_prefix, sizeof(out->key_prefix), "") != 0 ||
	    store_copy(s, 6, out->csrf, sizeof(out->csrf), "") != 0 ||
	    store_copy(s, 5, g->prefix, sizeof(g->prefix), "") != 0)
		return CD_E_INTERNAL;
	out->created_at = store_i64(s, 7);
	out->last_seen_at = store_i64(s, 8);
	return CD_OK;
}

static enum cd_err find_tx(struct store *db, const unsigned char id_hash[32], struct ledger_console_session *out)
{
	int e;
	memset(out, 0, sizeof(*out));
	struct dbstmt *s = store_exec(db, SQL_FIND, &e, "biii", id_hash, (size_t)32, db->now,
				      db->now - LIMIT_CONSOLE_SESSION_SECONDS, db->now - LIMIT_CONSOLE_IDLE_SECONDS);
	if (s == NULL)
		return store_err(db, e, "console session look-up");
	if (store_fetch(s) != 1)
		return CD_OK;
	enum cd_err rc = find_row(s, out);
	if (rc != CD_OK || out->grant.scopes == 0 || out->last_seen_at > db->now - LIMIT_CONSOLE_SEEN_SECONDS)
		return rc;
	out->last_seen_at = db->now;
	return store_do(db, SQL_SEEN, "console session seen", "ibi", db->now, id_hash, (size_t)32,
			db->now - LIMIT_CONSOLE_SEEN_SECONDS);
}

enum cd_err ledger_console_find(struct store *db, const unsigned char id_hash[32], struct ledger_console_session *out)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, find_tx(db, id_hash, out));
	if (t.rc != CD_OK || out->grant.scopes == 0) {
		memset(out, 0, sizeof(*out));
		return t.rc != CD_OK ? t.rc : CD_E_UNAUTHORIZED;
	}
	return CD_OK;
}

static enum cd_err close_tx(struct store *db, const unsigned char id_hash[32])
{
	return store_do(db, SQL_CLOSE, "console session close", "b", id_hash, (size_t)32);
}

enum cd_err ledger_console_close(struct store *db, const unsigned char id_hash[32])
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, close_tx(db, id_hash));
	return t.rc;
}
