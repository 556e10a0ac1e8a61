/* ledger_gwcalls.c: what the gateway keeps of its calls beside their
 * money (docs/gateway.md): the renewal of the holds of calls still in
 * flight, what a call was charged for beyond its tokens, and one hold as
 * GET /v1/holds/{hold_id} shows it (the objects its calls made are
 * ledger_gwobjects.c's). Each one transaction on the account's node. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include "ledger_unresolved.h"
#include "refusal.h"
#include <assert.h>
#include <string.h>

/* A pending hold not yet expired lives ttl seconds from now (never less
 * than it had): the hold of a call in flight outlives its ttl as long as
 * the call does. One already expired is the sweep's (captured in full). */
static const char SQL_RENEW[] = "UPDATE holds SET expires_at = GREATEST(expires_at, ?) WHERE id = ? AND account_id = ? "
				"AND state = 'pending' AND expires_at > ?";

static const char SQL_BILLED[] = "UPDATE usage_records SET over_hold = ?, service_tier = ?, long_context = ?, "
				 "cache_write_1h_tokens = ?, audio_input_tokens = ?, audio_output_tokens = ?, "
				 "web_search_calls = ?, provider = ?, attempts = ?, usage_unknown = ?, price_provider = ?, "
				 "media_kind = ?, media_characters = ?, media_audio_ms = ?, media_images = ? "
				 "WHERE hold_id = ? AND account_id = ?";

/* A batch line's usage record, by its request_id (uq_request). */
static const char SQL_OVER_HOLD[] = "UPDATE usage_records SET over_hold = 1 WHERE account_id = "
				    "(SELECT id FROM accounts WHERE ext_id = ?) AND request_id = ?";

struct gw_call_tx {
	const char *account;
	int64_t renew_ttl;		/* > 0: renew hold (account_id, hold) instead */
	int64_t account_id, hold;
	const struct ledger_usage_billed *billed;	/* kept on the usage of hold (account_id, hold) instead */
};

static enum cd_err call_tx(struct store *db, void *arg)
{
	struct gw_call_tx *x = arg;
	const struct ledger_usage_billed *b = x->billed;
	if (b != NULL)
		return store_do(db, SQL_BILLED, "usage billed", "isiiiiisiissiiiii", (int64_t)b->over_hold, b->service_tier,
				    (int64_t)b->long_context, b->cache_write_1h_tokens, b->audio_input_tokens,
				    b->audio_output_tokens, b->web_search_calls, b->provider, (int64_t)b->attempts,
				    (int64_t)b->usage_unknown, b->price_provider, b->media_kind, b->media_characters,
				    b->media_audio_ms, b->media_images, x->hold, x->account_id);
	assert(x->renew_ttl > 0);
	return store_do(db, SQL_RENEW, "hold renewal", "iiii", db->now + x->renew_ttl, x->hold, x->account_id, db->now);
}

enum cd_err ledger_hold_renew(struct store *db, const char *account, const char *hold_id, int64_t ttl_seconds)
{
	struct gw_call_tx x = {account, ttl_seconds, 0, 0, NULL};
	assert(account != NULL);
	assert(hold_id != NULL);
	store_holdid_ensure(db);
	if (ttl_seconds <= 0 || ledger_rows_hold_id_parse(hold_id, &x.account_id, &x.hold) != 0)
		return CD_E_NOT_FOUND;
	assert(x.hold > 0);	/* a hold id parsed names a hold and its account */
	assert(x.account_id > 0);
	return store_tx_on(db, x.account, call_tx, &x);
}

enum cd_err ledger_usage_billed(struct store *db, const char *account, const char *hold_id,
				const struct ledger_usage_billed *b)
{
	struct gw_call_tx x = {account, 0, 0, 0, b};
	assert(b != NULL);
	assert(hold_id != NULL);
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &x.account_id, &x.hold) != 0)
		return CD_E_NOT_FOUND;
	assert(x.hold > 0);
	return store_tx_on(db, x.account, call_tx, &x);
}

/* ---- One hold as GET /v1/holds/{hold_id} shows it (docs/api.md) ---- */

static const char SQL_HOLD_GET[] =
	"SELECT a.ext_id, h.member, h.model, h.action, h.request_id, h.state, h.amount_micros, h.charged_micros, "
	"h.created_at, h.finished_at, u.id IS NOT NULL, u.input_tokens, u.cached_input_tokens, "
	"u.cache_write_input_tokens, u.output_tokens, u.settle_reason, COALESCE(u.over_hold, 0), "
	"COALESCE(u.service_tier, 'standard'), u.long_context, u.cache_write_1h_tokens, u.audio_input_tokens, "
	"u.audio_output_tokens, u.web_search_calls, u.provider, u.attempts, COALESCE(u.usage_unknown, 0), "
	"h.unresolved_at IS NOT NULL, h.resolved, u.price_provider "
	"FROM holds h STRAIGHT_JOIN accounts a ON a.id = h.account_id "
	"LEFT JOIN usage_records u FORCE INDEX (ix_hold) ON u.hold_id = h.id AND u.account_id = h.account_id "
	"WHERE h.id = ? AND h.account_id = ? ORDER BY u.id DESC LIMIT 1";

/* The provider of a gateway hold: the one its usage record names (a call
 * that fell back, sql/049), else the one its request_id names
 * (gw_NAME_<random hex>); null for a guard hold. */
static json_t *provider_of(const char *recorded, const char *request_id)
{
	const char *last = request_id != NULL ? strrchr(request_id, '_') : NULL;
	if (recorded != NULL)
		return json_string(recorded);
	if (last == NULL || strncmp(request_id, LEDGER_GATEWAY_REQUEST_PREFIX, 3) != 0 || last - request_id <= 3)
		return json_null();
	return json_stringn(request_id + 3, (size_t)(last - request_id - 3));
}

static json_t *text_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* The usage of a settled hold: its tokens, then what it was charged for
 * beyond them (sql/047). */
static json_t *hold_usage(struct dbstmt *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:s, s:b, s:I, s:I, s:I, s:I}", "input_tokens",
			 (json_int_t)store_i64(s, 11), "cached_input_tokens", (json_int_t)store_i64(s, 12),
			 "cache_write_input_tokens", (json_int_t)store_i64(s, 13), "output_tokens",
			 (json_int_t)store_i64(s, 14), "service_tier", store_str(s, 17), "long_context",
			 store_i64(s, 18) != 0, "cache_write_1h_tokens", (json_int_t)store_i64(s, 19),
			 "audio_input_tokens", (json_int_t)store_i64(s, 20), "audio_output_tokens",
			 (json_int_t)store_i64(s, 21), "web_search_calls", (json_int_t)store_i64(s, 22));
}

static enum cd_err hold_get_tx(struct store *db, const char *hold_id, int64_t account_id, int64_t hold, json_t **out)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_HOLD_GET, &e, "ii", hold, account_id);
	if (s == NULL)
		return store_err(db, e, "hold lookup");
	int got = store_fetch(s);
	if (got <= 0)
		return got < 0 ? CD_E_INTERNAL : refusal_set(&db->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	json_t *usage = store_i64(s, 10) == 0 ? json_null() : hold_usage(s);
	int recorded = store_i64(s, 10) != 0;
	/* An unresolved hold (sql/058) is pending in the ledger and shown as
	 * what it is; its reason is the call's end, with no usage record. */
	int unresolved = store_i64(s, 26) != 0;
	const char *status = unresolved && strcmp(store_str(s, 5), "pending") == 0 ? "unresolved" : store_str(s, 5);
	const char *reason = recorded ? store_str(s, 15) : unresolved ? LEDGER_REASON_PROVIDER_TIMEOUT : NULL;
	*out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:I, s:o, s:o, s:o, s:b, s:b, s:o, s:o}", "hold_id",
			 hold_id,
			 "account", store_str(s, 0), "member", text_or_null(store_str(s, 1)), "model",
			 text_or_null(store_str(s, 2) != NULL ? store_str(s, 2) : store_str(s, 3)), "provider",
			 provider_of(store_str(s, 23), store_str(s, 4)), "price_provider",
			 recorded ? text_or_null(store_str(s, 28)) : json_null(), "attempts",
			 recorded && strncmp(store_str(s, 4) != NULL ? store_str(s, 4) : "", LEDGER_GATEWAY_REQUEST_PREFIX, 3) == 0
			 ? json_integer((json_int_t)store_i64(s, 24)) : json_null(), "status", status, "held_micros",
			 (json_int_t)store_i64(s, 6), "charged_micros", (json_int_t)store_i64(s, 7), "usage", usage,
			 "settle_reason", text_or_null(reason), "resolved", text_or_null(store_str(s, 27)),
			 "over_hold", store_i64(s, 16) != 0, "usage_unknown", store_i64(s, 25) != 0,
			 "created_at", ledger_rows_json_time(store_i64(s, 8)),
			 "settled_at", store_null(s, 9) ? json_null() : ledger_rows_json_time(store_i64(s, 9)));
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_hold_get(struct store *db, const char *hold_id, json_t **out)
{
	struct store_tx t;
	int64_t account_id, hold;
	assert(hold_id != NULL);
	*out = NULL;
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &account_id, &hold) != 0)
		return refusal_set(&db->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	for (store_tx_init(db, &t); store_tx_next(db, &t);) {
		json_decref(*out);
		*out = NULL;
		store_tx_end(db, &t, hold_get_tx(db, hold_id, account_id, hold, out));
	}
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	assert(t.rc != CD_OK || *out != NULL);
	return t.rc;
}

struct over_hold_tx {
	const char *account, *request_id;
};

static enum cd_err over_hold_tx(struct store *db, void *arg)
{
	struct over_hold_tx *x = arg;
	return store_do(db, SQL_OVER_HOLD, "usage over_hold", "ss", x->account, x->request_id);
}

enum cd_err ledger_usage_over_hold(struct store *db, const char *account, const char *request_id)
{
	struct over_hold_tx x = {account, request_id};
	assert(account != NULL);
	assert(request_id != NULL);
	return store_tx_on(db, account, over_hold_tx, &x);
}
