/* ledger_gwkeys.c: gateway keys for end users in the database
 * (docs/api.md, "Gateway keys for end users"; sql/036_gateway_keys.sql): minted, listed and revoked
 * through the account they are bound to. They are api_keys rows like
 * creditctl's (ledger_keys.c looks them up), of the gateway scope alone;
 * only the key's SHA-256 and first characters are stored, and nothing here
 * sees a whole key. Every statement names the account and the scope, so a
 * route of one account never lists or revokes another's keys, nor a key
 * creditctl made. A mint counts the account's live keys under the
 * account's row lock, so concurrent mints cannot pass
 * LIMIT_GATEWAY_KEYS_PER_ACCOUNT together. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include "keys.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

/* A key as answered, in this order (struct gwkey_view). */
#define GWKEY_COLUMNS "id, prefix, member, name, expires_at, created_at, last_used_at, revoked_at, models"
/* The account's keys that still work: ix_account_scope's range. */
#define GWKEY_LIVE "account_id = ? AND scopes = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"

static const char SQL_GWKEY_COUNT[] = "SELECT COUNT(*) FROM api_keys WHERE " GWKEY_LIVE;
static const char SQL_GWKEY_INSERT[] = "INSERT INTO api_keys (key_hash, prefix, name, scopes, account_id, member, "
				       "models, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_GWKEY_PAGE[] = "SELECT " GWKEY_COLUMNS " FROM api_keys WHERE " GWKEY_LIVE
				     " AND id > ? ORDER BY id LIMIT ?";
static const char SQL_GWKEY_REVOKE[] = "UPDATE api_keys SET revoked_at = ? "
				       "WHERE id = ? AND account_id = ? AND scopes = ? AND revoked_at IS NULL";
static const char SQL_GWKEY_ONE[] = "SELECT " GWKEY_COLUMNS " FROM api_keys WHERE id = ?";

/* A key as the API shows it; borrowed strings. Times: -1 for none. */
struct gwkey_view {
	int64_t id;
	const char *prefix, *member, *name;	/* member, name: NULL or "" for none */
	int64_t expires_at, created_at, last_used_at, revoked_at;
	const char *models;		/* comma-separated; NULL or "": any (null) */
};

/* A key's models as the API shows them: an array, or null for any. */
static json_t *models_json(const char *models)
{
	if (models == NULL || models[0] == '\0')
		return json_null();
	json_t *list = json_array();
	const char *at = models, *name;
	size_t len;
	while (list != NULL && keys_models_next(&at, &name, &len))
		if (json_array_append_new(list, json_stringn(name, len)) != 0) {
			json_decref(list);
			return NULL;
		}
	return list;
}

static json_t *time_or_null(int64_t t)
{
	char text[TIMEFMT_LEN];
	if (t < 0)
		return json_null();
	timefmt_rfc3339(t, text);
	return json_string(text);
}

static json_t *text_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* {id, prefix, member, name, expires_at, created_at, last_used_at}, and
 * revoked_at when with_revoked. NULL when memory runs out. */
static json_t *gwkey_json(const struct gwkey_view *v, int with_revoked)
{
	char id[32];
	ledger_ids_format(id, sizeof(id), "gwk_", v->id);
	json_t *k = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", id, "prefix", v->prefix, "member",
			      text_or_null(v->member), "name", text_or_null(v->name), "models", models_json(v->models),
			      "expires_at", time_or_null(v->expires_at), "created_at", time_or_null(v->created_at),
			      "last_used_at", time_or_null(v->last_used_at));
	if (k != NULL && with_revoked && json_object_set_new(k, "revoked_at", time_or_null(v->revoked_at)) != 0) {
		json_decref(k);
		return NULL;
	}
	return k;
}

static int64_t time_col(const struct dbstmt *s, unsigned int col)
{
	return store_null(s, col) ? -1 : store_i64(s, col);
}

/* The current row of a GWKEY_COLUMNS statement as the API shows it. */
static json_t *gwkey_row_json(const struct dbstmt *s, int with_revoked)
{
	const struct gwkey_view v = {store_i64(s, 0), store_str(s, 1) != NULL ? store_str(s, 1) : "", store_str(s, 2), store_str(s, 3),
				     time_col(s, 4), time_col(s, 5), time_col(s, 6), time_col(s, 7), store_str(s, 8)};
	return gwkey_json(&v, with_revoked);
}

static enum cd_err gwkey_create_tx(struct store *db, const struct gwkey_new *n, json_t **out)
{
	struct acct a;
	int e;
	json_decref(*out);
	*out = NULL;	/* a retried attempt starts again */
	enum cd_err rc = ledger_rows_acct_load_locked(db, n->account, &a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, SQL_GWKEY_COUNT, &e, "iii", a.id, (int64_t)KEY_SCOPE_GATEWAY, db->now);
	if (s == NULL)
		return store_err(db, e, "gateway key count");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	if (store_i64(s, 0) >= LIMIT_GATEWAY_KEYS_PER_ACCOUNT)
		return CD_E_CONFLICT;
	const int64_t *expires = n->expires_at != 0 ? &n->expires_at : NULL;
	const char *models = n->models != NULL && n->models[0] != '\0' ? n->models : NULL;
	s = store_exec(db, SQL_GWKEY_INSERT, &e, "bssiissIi", n->hash, (size_t)KEYS_HASH_LEN, n->prefix,
		    n->name != NULL ? n->name : "", (int64_t)KEY_SCOPE_GATEWAY, a.id, n->member, models, expires, db->now);
	if (s == NULL)
		return store_err(db, e, "gateway key create");
	const struct gwkey_view v = {(int64_t)store_insert_id(s), n->prefix, n->member, n->name,
				     n->expires_at != 0 ? n->expires_at : -1, db->now, -1, -1, models};
	*out = gwkey_json(&v, 0);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_gwkey_create(struct store *db, const struct gwkey_new *n, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, gwkey_create_tx(db, n, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

static enum cd_err gwkey_list_tx(struct store *db, const char *account, int limit, int64_t after_id, json_t **out)
{
	struct acct a;
	int e, n = 0, more = 0;
	int64_t last = 0;
	json_decref(*out);
	*out = NULL;
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, SQL_GWKEY_PAGE, &e, "iiiii", a.id, (int64_t)KEY_SCOPE_GATEWAY, db->now, after_id,
				   (int64_t)limit + 1);
	if (s == NULL)
		return store_err(db, e, "gateway key list");
	json_t *data = json_array();
	while (data != NULL && store_fetch(s) == 1) {
		if (n == limit) {
			more = 1;
			break;
		}
		if (json_array_append_new(data, gwkey_row_json(s, 0)) != 0) {
			json_decref(data);
			return CD_E_INTERNAL;
		}
		last = store_i64(s, 0);
		n++;
	}
	char next[32];
	ledger_ids_format(next, sizeof(next), "gwk_", last);
	*out = json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", more ? json_string(next) : json_null(),
			 "has_more", more);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_gwkey_list(struct store *db, const char *account, int limit, int64_t after_id, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, gwkey_list_tx(db, account, limit, after_id, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

static enum cd_err gwkey_revoke_tx(struct store *db, const char *account, int64_t id, json_t **out,
				   const char **missing)
{
	struct acct a;
	int e;
	json_decref(*out);
	*out = NULL;
	*missing = "account";
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	if (rc != CD_OK)
		return rc;
	*missing = "gateway key";
	struct dbstmt *s = store_exec(db, SQL_GWKEY_REVOKE, &e, "iiii", db->now, id, a.id, (int64_t)KEY_SCOPE_GATEWAY);
	if (s == NULL)
		return store_err(db, e, "gateway key revoke");
	if (store_affected(s) == 0)
		return CD_E_NOT_FOUND;
	s = store_exec(db, SQL_GWKEY_ONE, &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "gateway key read");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*out = gwkey_row_json(s, 1);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_gwkey_revoke(struct store *db, const char *account, int64_t id, json_t **out,
				const char **missing)
{
	struct store_tx t;
	*out = NULL;
	*missing = "account";
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, gwkey_revoke_tx(db, account, id, out, missing));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}
