/* api_keys.c: the operator's API keys through the API (docs/api.md,
 * "API keys"): GET /v1/keys lists them (read or admin: never a secret
 * nor its hash), POST /v1/keys makes one (admin; the secret in that
 * answer only, the ledger keeps its SHA-256), DELETE /v1/keys/{id}
 * revokes one (admin). The rules are creditctl key create's and revoke's
 * (ctl_keys.c): scopes among guard, read, app and admin; an admin key is
 * never bound to an account; gateway keys are made per account
 * (api_gwkeys.c). A key may not revoke itself here: an operator's
 * console would lock itself out with one click (creditctl still can).
 * The create is not idempotent, as a gateway key's mint is not: its
 * answer holds a secret that is never stored, so no answer can be
 * replayed; the revoke is idempotent by nature (a revoked key stays
 * revoked, its first revocation's time kept). */
#include "api.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_operator.h"
#include "keycache.h"
#include "timefmt.h"
#include "urlpath.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct jfield key_fields[] = {
	{"scopes", J_ARRAY, 1, 0, 1, 4, NULL},
	{"name", J_STR, 0, 1, 0, LIMIT_NAME_BYTES, NULL},
	{"account", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"models", J_ARRAY, 0, 1, 1, LIMIT_KEY_MODELS, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

static json_t *scopes_json(int mask)
{
	static const int bits[] = {KEY_SCOPE_GUARD, KEY_SCOPE_READ, KEY_SCOPE_APP, KEY_SCOPE_ADMIN, KEY_SCOPE_GATEWAY};
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < sizeof(bits) / sizeof(bits[0]); i++)
		if (mask & bits[i])
			json_array_append_new(a, json_string(keys_scope_name(bits[i])));
	return a;
}

/* A key as the API shows it: never the secret, never its hash. */
static json_t *key_json(const struct ledger_key_row *k)
{
	char created[TIMEFMT_LEN], revoked[TIMEFMT_LEN];
	json_t *models = json_null();
	timefmt_rfc3339(k->created_at, created);
	if (k->revoked_at >= 0)
		timefmt_rfc3339(k->revoked_at, revoked);
	if (k->models[0] != '\0') {
		const char *at = k->models, *name;
		size_t len;
		models = json_array();
		while (models != NULL && keys_models_next(&at, &name, &len))
			json_array_append_new(models, json_stringn(name, len));
	}
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "id", (json_int_t)k->id, "prefix", k->prefix,
			 "name", k->name, "scopes", scopes_json(k->scopes), "models", models, "account",
			 k->account[0] != '\0' ? json_string(k->account) : json_null(), "created_at", created,
			 "revoked_at", k->revoked_at >= 0 ? json_string(revoked) : json_null());
}

void api_keys_list(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t limit = LIMIT_PAGE_DEFAULT, after = 0;
	int n = 0;
	(void)params;
	if (api_query_int(rq->query, "limit", 1, LIMIT_LIST_PAGE, &limit, rs) < 0 ||
	    api_query_int(rq->query, "cursor", 0, INT64_MAX, &after, rs) < 0)
		return;
	/* One more than the page says whether another follows. */
	struct ledger_key_row *rows = calloc((size_t)limit + 1, sizeof(*rows));
	enum cd_err rc = rows != NULL ? ledger_key_list(ctx->db, after, rows, (int)limit + 1, &n) : CD_E_INTERNAL;
	if (rc != CD_OK) {
		free(rows);
		api_fail(rs, rc, NULL);
		return;
	}
	int more = n > limit;
	json_t *data = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(data, key_json(&rows[i]));
	/* The cursor is the last key's id: keys are listed by id. */
	json_t *next = more ? json_integer((json_int_t)rows[limit - 1].id) : json_null();
	free(rows);
	api_json(rs, 200, json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", next, "has_more", more));
}

/* A JSON array of strings, each checked by ok (NULL: any), into list as
 * name,name (cap bytes): 0, or -1 with rs answered 400 naming field. */
static int list_of(json_t *body, const char *field, char *list, size_t cap, int (*ok)(const char *),
		   struct response *rs)
{
	json_t *a = json_object_get(body, field), *e;
	size_t i, used = 0;
	list[0] = '\0';
	json_array_foreach(a, i, e) {
		const char *s = json_string_value(e);
		int w = s != NULL && (ok == NULL || ok(s)) ? snprintf(list + used, cap - used, "%s%s", i > 0 ? "," : "", s)
							   : -1;
		if (w < 0 || (size_t)w >= cap - used) {
			api_error(rs, CD_E_INVALID, field, "%s[%zu] is not a valid entry", field, i);
			return -1;
		}
		used += (size_t)w;
	}
	return 0;
}

/* The checks creditctl key create makes; 0, or -1 with rs answered. */
static int create_checks(json_t *body, int *mask, char *models, size_t cap, struct response *rs)
{
	char scopes[64];
	const char *account = jsonio_str(body, "account"), *bad;
	if (list_of(body, "scopes", scopes, sizeof(scopes), NULL, rs) != 0 ||
	    list_of(body, "models", models, cap, keys_model_name_ok, rs) != 0)
		return -1;
	*mask = keys_parse_scopes(scopes);
	if (*mask <= 0 || (*mask & KEY_SCOPE_GATEWAY)) {
		api_error(rs, CD_E_INVALID, "scopes", "scopes lists guard, read, app and/or admin (gateway keys are "
			  "made per account: POST /v1/accounts/{id}/gateway_keys)");
		return -1;
	}
	if (json_is_array(json_object_get(body, "models")) && models[0] == '\0') {
		api_error(rs, CD_E_INVALID, "models", "models lists at least one model (null or absent: any model)");
		return -1;
	}
	if (models[0] != '\0' && (bad = keys_models_check(models)) != NULL) {
		api_error(rs, CD_E_INVALID, "models", "models: %s", bad);
		return -1;
	}
	if (account != NULL && (*mask & KEY_SCOPE_ADMIN)) {
		api_error(rs, CD_E_INVALID, "account", "an admin key cannot be bound to an account (account is for "
			  "guard, read and app keys)");
		return -1;
	}
	return account != NULL ? api_check_account_id(account, "account", rs) : 0;
}

void api_key_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char key[KEYS_LEN + 1], models[LIMIT_KEY_MODELS_BYTES + 1];
	unsigned char hash[KEYS_HASH_LEN];
	struct ledger_key_row row;
	int mask = 0;
	(void)params;
	json_t *body = api_body(rq, key_fields, rs);
	if (body == NULL || create_checks(body, &mask, models, sizeof(models), rs) != 0) {
		json_decref(body);
		return;
	}
	if (keys_generate(key) != 0) {
		json_decref(body);
		api_error(rs, CD_E_INTERNAL, NULL, "the random generator failed");
		return;
	}
	memset(&row, 0, sizeof(row));
	keys_sha256(key, strlen(key), hash);
	snprintf(row.prefix, sizeof(row.prefix), "%.12s", key);
	snprintf(row.name, sizeof(row.name), "%s", jsonio_str(body, "name") != NULL ? jsonio_str(body, "name") : "");
	snprintf(row.account, sizeof(row.account), "%s", jsonio_has(body, "account") ? jsonio_str(body, "account") : "");
	snprintf(row.models, sizeof(row.models), "%s", models);
	row.scopes = mask;
	row.revoked_at = -1;
	row.created_at = timefmt_now();
	const struct ledger_key_new n = {hash, row.prefix, row.name, mask, row.account[0] != '\0' ? row.account : NULL,
					 models};
	enum cd_err rc = ledger_key_create(ctx->db, &n, &row.id);
	json_decref(body);
	if (rc != CD_OK) {
		api_fail(rs, rc, "account");
		return;
	}
	json_t *out = key_json(&row);
	json_object_set_new(out, "key", json_string(key));
	api_json(rs, 201, out);
}

void api_key_revoke(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t id = 0, own = 0;
	unsigned char hash[KEYS_HASH_LEN];
	const char *bearer = keys_bearer(rq->authorization);
	char *end = NULL;
	if (params[0][0] >= '0' && params[0][0] <= '9')
		id = strtoll(params[0], &end, 10);
	if (end == NULL || *end != '\0' || id <= 0) {
		api_fail(rs, CD_E_NOT_FOUND, "key");
		return;
	}
	keys_sha256(bearer != NULL ? bearer : "", bearer != NULL ? strlen(bearer) : 0, hash);
	enum cd_err rc = ledger_operator_key_id(ctx->db, hash, &own);
	if (rc == CD_OK && own == id) {
		api_error(rs, CD_E_CONFLICT, NULL, "a key cannot revoke itself through the API: revoke it with another "
			  "admin key, or with creditctl key revoke");
		return;
	}
	if (rc == CD_OK)
		rc = ledger_key_revoke(ctx->db, id);
	if (rc == CD_OK)
		keycache_revoked();
	if (rc != CD_OK) {
		api_fail(rs, rc, "key");
		return;
	}
	api_json(rs, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
}
