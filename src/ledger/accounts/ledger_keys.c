/* ledger_keys.c: API keys in the database: created, looked up by hash,
 * listed and revoked. Only a key's SHA-256 and first characters are
 * stored; nothing here ever sees or logs a whole key. A key may be bound
 * to one account (sql/016_key_binding.sql): its lookup then also names
 * that account, internal and external id, so the router can keep the key
 * to it without another round trip; a gateway key's member and expiry
 * come with it (sql/036_gateway_keys.sql, ledger_gwkeys.c). The lookup
 * notes the key's last use when its note is LIMIT_KEY_LAST_USED_SECONDS
 * old: a write a minute, not one per call. */
#include "ledger_int.h"
#include "keys.h"
#include <stdio.h>
#include <string.h>

static const char SQL_KEY_AUTH[] = "SELECT k.scopes, k.account_id, a.ext_id, k.member, k.expires_at, k.id, "
				   "k.last_used_at, k.models, k.prefix FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id "
				   "WHERE k.key_hash = ? AND k.revoked_at IS NULL";
static const char SQL_KEY_USED[] = "UPDATE api_keys SET last_used_at = ? "
				   "WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)";

/* Notes the key's use when its note is stale (NULL or older than
 * LIMIT_KEY_LAST_USED_SECONDS); the WHERE keeps a racing look-up from
 * writing it again. */
static enum cd_err key_used(struct store *db, const struct dbstmt *s, int64_t id)
{
	int64_t stale = db->now - LIMIT_KEY_LAST_USED_SECONDS;
	if (!store_null(s, 6) && store_i64(s, 6) >= stale)
		return CD_OK;
	return store_do(db, SQL_KEY_USED, "key last use", "iii", db->now, id, stale);
}

static enum cd_err key_auth_tx(struct store *db, const unsigned char hash[32], struct key_grant *grant)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_KEY_AUTH, &e, "b", hash, (size_t)32);
	if (s == NULL)
		return store_err(db, e, "key lookup");
	memset(grant, 0, sizeof(*grant));
	if (store_fetch(s) != 1)
		return CD_OK;
	/* Expired: as unknown (a key expires at the second it names). */
	if (!store_null(s, 4) && store_i64(s, 4) <= db->now)
		return CD_OK;
	grant->scopes = (int)store_i64(s, 0);
	grant->expires_at = store_null(s, 4) ? 0 : store_i64(s, 4);
	if (!store_null(s, 1)) {
		grant->account_id = store_i64(s, 1);
		snprintf(grant->account, sizeof(grant->account), "%s", store_str(s, 2) != NULL ? store_str(s, 2) : "");
	}
	if (store_copy(s, 3, grant->member, sizeof(grant->member), "") != 0 ||
	    store_copy(s, 7, grant->models, sizeof(grant->models), "") != 0 ||
	    store_copy(s, 8, grant->prefix, sizeof(grant->prefix), "") != 0)
		return CD_E_INTERNAL;
	return key_used(db, s, store_i64(s, 5));
}

enum cd_err ledger_key_auth(struct store *db, const unsigned char hash[32], struct key_grant *grant)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, key_auth_tx(db, hash, grant));
	if (t.rc != CD_OK)
		return t.rc;
	/* A bound key whose account row is gone (it cannot be: the foreign
	 * key keeps it) would reach nothing: refused like an unknown key. So
	 * is a gateway key bound to no account, or with another scope beside
	 * (the API makes neither; a row edited by hand must not widen one). */
	if (grant->account_id != 0 && grant->account[0] == '\0')
		grant->scopes = 0;
	if ((grant->scopes & KEY_SCOPE_GATEWAY) && (grant->scopes != KEY_SCOPE_GATEWAY || grant->account_id == 0))
		grant->scopes = 0;
	if (grant->scopes == 0)
		memset(grant, 0, sizeof(*grant));
	return grant->scopes != 0 ? CD_OK : CD_E_UNAUTHORIZED;
}

static enum cd_err key_create_tx(struct store *db, const struct ledger_key_new *n, int64_t *id)
{
	static const char sql[] = "INSERT INTO api_keys (key_hash, prefix, name, scopes, account_id, models, created_at) "
				  "VALUES (?, ?, ?, ?, ?, ?, ?)";
	static const char find[] = "SELECT id FROM accounts WHERE ext_id = ?";
	int64_t account_id = 0;
	int e;
	if (n->account != NULL) {
		struct dbstmt *f = store_exec(db, find, &e, "s", n->account);
		if (f == NULL)
			return store_err(db, e, "key account");
		if (store_fetch(f) != 1)
			return CD_E_NOT_FOUND;
		account_id = store_i64(f, 0);
	}
	const int64_t *bound = account_id != 0 ? &account_id : NULL;
	const char *models = n->models != NULL && n->models[0] != '\0' ? n->models : NULL;
	struct dbstmt *s = store_exec(db, sql, &e, "bssiIsi", n->hash, (size_t)32, n->prefix, n->name,
				   (int64_t)n->scopes, bound, models, db->now);
	if (s == NULL)
		return store_err(db, e, "key create");
	*id = (int64_t)store_insert_id(s);
	return CD_OK;
}

enum cd_err ledger_key_create(struct store *db, const struct ledger_key_new *n, int64_t *id)
{
	struct store_tx t;
	*id = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, key_create_tx(db, n, id));
	return t.rc;
}

static enum cd_err key_list_tx(struct store *db, int64_t after_id, struct ledger_key_row *rows, int cap, int *n)
{
	static const char sql[] = "SELECT k.id, k.prefix, k.name, k.scopes, k.created_at, k.revoked_at, a.ext_id, k.models "
				  "FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id WHERE k.id > ? "
				  "ORDER BY k.id LIMIT ?";
	int e;
	*n = 0;	/* a retried transaction starts the page again */
	struct dbstmt *s = store_exec(db, sql, &e, "ii", after_id, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "key list");
	while (*n < cap && store_fetch(s) == 1) {
		struct ledger_key_row *k = &rows[*n];
		k->id = store_i64(s, 0);
		k->scopes = (int)store_i64(s, 3);
		k->created_at = store_i64(s, 4);
		k->revoked_at = store_null(s, 5) ? -1 : store_i64(s, 5);
		if (store_copy(s, 1, k->prefix, sizeof(k->prefix), "") != 0 ||
		    store_copy(s, 2, k->name, sizeof(k->name), "") != 0 ||
		    store_copy(s, 6, k->account, sizeof(k->account), "") != 0 ||
		    store_copy(s, 7, k->models, sizeof(k->models), "") != 0)
			return CD_E_INTERNAL;
		(*n)++;
	}
	return CD_OK;
}

enum cd_err ledger_key_list(struct store *db, int64_t after_id, struct ledger_key_row *rows, int cap, int *n)
{
	struct store_tx t;
	*n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, key_list_tx(db, after_id, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc;
}

static enum cd_err key_revoke_tx(struct store *db, int64_t id, int *found)
{
	static const char sql[] = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", db->now, id);
	if (s == NULL)
		return store_err(db, e, "key revoke");
	*found = store_affected(s) > 0;
	return CD_OK;
}

enum cd_err ledger_key_revoke(struct store *db, int64_t id)
{
	struct store_tx t;
	int found = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, key_revoke_tx(db, id, &found));
	return t.rc == CD_OK && !found ? CD_E_NOT_FOUND : t.rc;
}
