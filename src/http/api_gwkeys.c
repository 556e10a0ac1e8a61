/* api_gwkeys.c: gateway keys for end users (docs/api.md, "Gateway keys for end users"),
 * the routes an app's backend calls with its app key:
 * POST /v1/accounts/{id}/gateway_keys mints one (the secret answered this
 * once, only its SHA-256 kept), GET the same path lists the live ones,
 * DELETE …/gateway_keys/{key_id} revokes one. A bound app key manages its
 * own account's keys only (the router's path_reachable). What a gateway
 * key may do is the router's (the gateway routes, nothing under /v1) and
 * who pays for its calls api_gateway.c's. The mint is not idempotent: its
 * answer holds a secret, which is never stored, so no answer can be
 * replayed; an Idempotency-Key is not read. */
#include "api.h"
#include "keys.h"
#include "ledger.h"
#include "timefmt.h"
#include "urlpath.h"
#include <stdio.h>
#include <string.h>

static const struct jfield gwkey_fields[] = {
	{"member", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"name", J_STR, 0, 1, 1, LIMIT_NAME_BYTES, NULL},
	{"expires_at", J_TIME, 0, 1, 0, 0, NULL},
	{"models", J_ARRAY, 0, 1, 1, LIMIT_KEY_MODELS, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* A body's "models" (an array of 1 to LIMIT_KEY_MODELS names, or null or
 * absent for any model) as the comma-separated list a key keeps, into
 * list (LIMIT_KEY_MODELS_BYTES + 1). 0, or -1 with the refusal in rs. */
static int models_of(const json_t *body, char *list, struct response *rs)
{
	const json_t *models = json_object_get(body, "models"), *m;
	size_t i, used = 0;
	list[0] = '\0';
	if (json_is_array(models) && json_array_size(models) == 0) {
		api_error(rs, CD_E_INVALID, "models", "models lists at least one model (null or absent: any model)");
		return -1;
	}
	json_array_foreach(models, i, m) {
		const char *name = json_string_value(m);
		if (name == NULL || !keys_model_name_ok(name)) {
			api_error(rs, CD_E_INVALID, "models", "models[%zu] must be a model's name: 1 to %d bytes, "
				  "no comma, space or control character", i, LIMIT_NAME_BYTES);
			return -1;
		}
		used += (size_t)snprintf(list + used, LIMIT_KEY_MODELS_BYTES + 1 - used, "%s%s", i > 0 ? "," : "", name);
	}
	/* 16 names of at most 64 bytes and their commas always fit. */
	return used <= LIMIT_KEY_MODELS_BYTES ? 0 : -1;
}

/* Makes the key and stores it for n (n->hash and n->prefix point into
 * hash and prefix); answers 201 with the key, or the refusal. */
static void mint(struct api_ctx *ctx, struct gwkey_new *n, unsigned char hash[KEYS_HASH_LEN], char prefix[16],
		 struct response *rs)
{
	char key[KEYS_LEN + 1];
	json_t *out = NULL;
	if (keys_generate(key) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "the random generator failed");
		return;
	}
	keys_sha256(key, strlen(key), hash);
	snprintf(prefix, 16, "%.12s", key);
	enum cd_err rc = ledger_gwkey_create(ctx->db, n, &out);
	if (rc == CD_OK && json_object_set_new(out, "key", json_string(key)) == 0) {
		api_json(rs, 201, out);
		return;
	}
	json_decref(out);
	if (rc == CD_E_CONFLICT)
		api_error(rs, rc, NULL, "the account has %d live gateway keys, the most it may have: revoke some first",
			  LIMIT_GATEWAY_KEYS_PER_ACCOUNT);
	else if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
}

void api_gwkey_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	unsigned char hash[KEYS_HASH_LEN];
	char prefix[16];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, gwkey_fields, rs);
	if (body == NULL)
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	char models[LIMIT_KEY_MODELS_BYTES + 1];
	struct gwkey_new n = {hash, prefix, params[0], jsonio_str(body, "member"), jsonio_str(body, "name"), 0, models};
	if (models_of(body, models, rs) != 0) {
		json_decref(body);
		return;
	}
	/* Checked by the field table: a time, which parses. */
	if (jsonio_has(body, "expires_at") && timefmt_parse(jsonio_str(body, "expires_at"), &n.expires_at) != 0)
		n.expires_at = -1;
	if (jsonio_has(body, "expires_at") && n.expires_at <= timefmt_now())
		api_error(rs, CD_E_INVALID, "expires_at", "expires_at must be in the future");
	else
		mint(ctx, &n, hash, prefix, rs);
	json_decref(body);
}

void api_gwkey_list(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t limit = LIMIT_PAGE_DEFAULT, cursor = 0;
	char cur[64];
	json_t *out = NULL;
	if (!api_path_account_ok(params[0], rs) || api_query_int(rq->query, "limit", 1, LIMIT_PAGE_MAX, &limit, rs) < 0)
		return;
	int got = urlpath_query_get(rq->query, "cursor", cur, sizeof(cur));
	if (got != 0 && (got < 0 || ledger_ids_parse(cur, "gwk_", &cursor) != 0)) {
		api_error(rs, CD_E_INVALID, "cursor", "cursor must be a next_cursor value from a previous page");
		return;
	}
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_gwkey_list(ctx->db, params[0], (int)limit, cursor, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, out);
}

/* A key id of no shape names no key: 404 as for an unknown one. */
void api_gwkey_revoke(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t id;
	const char *missing = "gateway key";
	json_t *out = NULL;
	(void)rq;
	if (!api_path_account_ok(params[0], rs))
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_ids_parse(params[1], "gwk_", &id) == 0 ?
			 ledger_gwkey_revoke(ctx->db, params[0], id, &out, &missing) : CD_E_NOT_FOUND;
	if (rc != CD_OK)
		api_fail(rs, rc, missing);
	else
		api_json(rs, 200, out);
}
