/* api_answers.c: what every handler shares: answers (JSON, errors in
 * creditd's shape, the ledger's results and refusals), bodies,
 * idempotency and request hashes, who a key reaches, prices. The small
 * routes are api_status.c's. */
#include "api.h"
#include "answer.h"
#include "log.h"
#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "urlpath.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_json(struct response *rs, int status, json_t *body)
{
	json_decref(rs->json);
	rs->json = body;
	rs->status = body != NULL ? status : 500;
}

void api_error(struct response *rs, enum cd_err e, const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message may quote what the client sent; JSON needs valid UTF-8. */
	const struct errors_row *row = errors_row(e);
	json_t *name = param != NULL && param[0] ? json_string(param) : NULL;
	json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "type", row->type, "code", row->code,
				"message", jsonio_text(msg), "param", name != NULL ? name : json_null());
	api_json(rs, row->status, json_pack("{s:o}", "error", err));
	if (e == CD_E_UNAVAILABLE || e == CD_E_RETRY)
		rs->retry_after = 1;
}

void api_fail(struct response *rs, enum cd_err e, const char *what)
{
	/* A route that names no subject gets the error's own words, never
	 * "(null)" (a 500 of the account search said "(null): internal error"). */
	if (what == NULL && e != CD_E_UNAVAILABLE && e != CD_E_RETRY && e != CD_E_SUSPENDED) {
		api_error(rs, e, NULL, "%s", errors_row(e)->text);
		return;
	}
	switch (e) {
	case CD_E_NOT_FOUND:
		api_error(rs, e, NULL, "%s not found", what);
		break;
	case CD_E_UNAVAILABLE:
	case CD_E_RETRY:
		api_error(rs, CD_E_UNAVAILABLE, NULL, "the database is unavailable; retry later");
		break;
	case CD_E_SUSPENDED:
		api_error(rs, e, NULL, "the account is not active");
		break;
	default:
		api_error(rs, e, NULL, "%s: %s", what, errors_row(e)->text);
		break;
	}
}

json_t *api_body(const struct request *rq, const struct jfield *fields, struct response *rs)
{
	struct jerr e;
	json_t *body = jsonio_parse_object(rq->body, rq->body_len, &e);
	if (body != NULL && jsonio_validate(body, fields, &e) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL)
		api_error(rs, CD_E_INVALID, e.param, "%s", e.message);
	return body;
}

void api_request_hash(const struct request *rq, unsigned char out[32])
{
	/* The hash of "METHOD PATH\n" followed by the body, taken in pieces:
	 * no copy to allocate, so no failure that could give two requests
	 * one hash. (The bytes are those hashed before, so hashes already
	 * stored under idempotency keys still match.) */
	const struct keys_part parts[] = {
		{rq->method, strlen(rq->method)}, {" ", 1}, {rq->path, strlen(rq->path)}, {"\n", 1},
		{rq->body, rq->body_len},
	};
	keys_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), out);
}

int api_idem_key(const struct request *rq, json_t *body, const char **key, struct response *rs)
{
	const char *k = rq->idempotency_key;
	if (k == NULL && body != NULL)
		k = jsonio_str(body, "idempotency_key");
	*key = NULL;
	if (k == NULL)
		return 0;
	/* A header's bytes are the client's: they must be UTF-8 as a field's
	 * are, or the key could not be written where the journal keeps it
	 * (a grant answered 500, a PATCH stored it and acted). */
	json_t *probe = json_string(k);
	json_decref(probe);
	if (jsonio_check_text(k, strlen(k), 1, LIMIT_IDEMPOTENCY_KEY_BYTES) != 0 || probe == NULL) {
		api_error(rs, CD_E_INVALID, "idempotency_key",
			  "Idempotency-Key must be 1 to %d bytes of UTF-8 text without control characters",
			  LIMIT_IDEMPOTENCY_KEY_BYTES);
		return -1;
	}
	*key = k;
	return 0;
}

/* A bound key's Idempotency-Key is stored as "t<account's internal
 * id>:<SHA-256 of the key, hex>" (at most 86 bytes, within the column's
 * 255 whatever the client sent): each tenant has a namespace of its own,
 * so two choosing the same key never replay each other's answers or get
 * each other's 409s. An unbound key's is stored as sent (as before
 * bindings existed); only such a key, which reaches every account anyway,
 * could choose a stored form of a tenant's, and a tenant never can. */
static void idem_namespace(struct api_ctx *ctx, const char *key)
{
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	keys_sha256(key, strlen(key), hash);
	keys_hex(hash, hex);
	snprintf(ctx->idem_key, sizeof(ctx->idem_key), "t%lld:%s", (long long)ctx->key.account_id, hex);
}
_Static_assert(1 + 20 + 1 + 2 * KEYS_HASH_LEN <= LIMIT_IDEMPOTENCY_KEY_BYTES, "a namespaced key fits the column");

int api_call_of(struct api_ctx *ctx, const struct request *rq, json_t *body, struct ledger_call *call,
		unsigned char hash[32], struct response *rs)
{
	if (api_idem_key(rq, body, &call->idem_key, rs) != 0)
		return -1;
	if (call->idem_key != NULL && ctx->key.account_id != 0) {
		idem_namespace(ctx, call->idem_key);
		call->idem_key = ctx->idem_key;
	}
	api_request_hash(rq, hash);
	call->request_hash = hash;
	/* An answer stored under the key is the API's own, rendered by the
	 * ledger when it stores it. */
	call->render = answer_render;
	return 0;
}

int api_key_reaches(const struct api_ctx *ctx, const char *account)
{
	return ctx->key.account_id == 0 || (account != NULL && strcmp(account, ctx->key.account) == 0);
}

int api_key_reaches_hold(const struct api_ctx *ctx, const char *hold_id)
{
	int64_t account_id;
	if (ctx->key.account_id == 0 || ledger_hold_account(ctx->db, hold_id, &account_id) != 0)
		return 1;
	return account_id == ctx->key.account_id;
}

/* 0 when the key reaches what it names, else -1 with the refusal of an
 * unknown one (why, subject) answered. */
static int reached(struct response *rs, int reaches, enum refusal_why why, const char *subject)
{
	if (!reaches)
		api_refuse(rs, why, subject);
	return reaches ? 0 : -1;
}

int api_guard_call(struct api_ctx *ctx, const struct request *rq, json_t *body, const char *account,
		   struct ledger_call *call, unsigned char hash[32], struct response *rs)
{
	return api_call_of(ctx, rq, body, call, hash, rs) != 0 ? -1
	       : reached(rs, api_key_reaches(ctx, account), REFUSE_ACCOUNT_UNKNOWN, account);
}

int api_guard_call_hold(struct api_ctx *ctx, const struct request *rq, json_t *body, const char *hold_id,
			struct ledger_call *call, unsigned char hash[32], struct response *rs)
{
	return api_call_of(ctx, rq, body, call, hash, rs) != 0 ? -1
	       : reached(rs, api_key_reaches_hold(ctx, hold_id), REFUSE_HOLD_UNKNOWN, hold_id);
}

void api_refuse(struct response *rs, enum refusal_why why, const char *subject)
{
	struct refusal r;
	enum cd_err e = refusal_set(&r, why, subject, NULL);
	json_t *body = refusal_json(&r);
	if (body == NULL)
		api_error(rs, e, NULL, "%s", errors_row(e)->text);
	else
		api_json(rs, errors_row(e)->status, body);
}

void api_answer(struct response *rs, enum cd_err rc, struct ledger_result *res)
{
	if (rc != CD_OK) {
		api_fail(rs, rc, "account");
		return;
	}
	if (res->body == NULL && res->done.kind != LEDGER_DONE_NONE) {
		/* A write's typed answer: rendered here, as the ledger rendered
		 * it to store under a key. */
		json_t *body = NULL;
		int status = 500;
		if (answer_render(&res->done, &status, &body) != CD_OK) {
			/* Out of memory: the write committed (without a key nothing
			 * was rendered in its transaction); said loudly, once. */
			log_error("a write committed but its answer could not be made (kind %d)", (int)res->done.kind);
			api_error(rs, CD_E_INTERNAL, NULL, "the write was made but its answer could not be made");
			return;
		}
		api_json(rs, status, body);
	} else {
		api_json(rs, res->status, res->body);
		res->body = NULL;
	}
	/* A rate limit's answer says when the window ends: the header too. */
	json_t *retry = json_object_get(json_object_get(rs->json, "error"), "retry_after_seconds");
	if (json_is_integer(retry) && json_integer_value(retry) > 0)
		rs->retry_after = (int)json_integer_value(retry);
	/* A day's or a month's limit that holds with nothing reserved passes
	 * only when the period ends (or an operator raises it): a client
	 * told so does not retry. One that a pending hold's settle may free
	 * is not said so. */
	rs->no_retry = rs->status == 429 && res->refusal.lasting;
	/* Routes named by a hold learn their account from the answer. */
	const char *acct = json_string_value(json_object_get(rs->json, "account"));
	if (rs->account[0] == '\0' && acct != NULL)
		snprintf(rs->account, sizeof(rs->account), "%s", acct);
}

int api_query_int(const char *query, const char *name, int64_t min, int64_t max, int64_t *v,
		  struct response *rs)
{
	char buf[32], *end;
	int got = urlpath_query_get(query, name, buf, sizeof(buf));
	if (got == 0)
		return 0;
	errno = 0;
	long long x = got > 0 ? strtoll(buf, &end, 10) : 0;
	if (got < 0 || buf[0] == '\0' || *end != '\0' || errno != 0 || x < min || x > max) {
		api_error(rs, CD_E_INVALID, name, "%s must be an integer from %lld to %lld", name, (long long)min,
			  (long long)max);
		return -1;
	}
	*v = x;
	return 1;
}

int api_check_account_id(const char *id, const char *param, struct response *rs)
{
	if (jsonio_check_text(id, strlen(id), 1, LIMIT_ACCOUNT_ID_BYTES) != 0) {
		api_error(rs, CD_E_INVALID, param, "%s must be 1 to %d bytes without control characters", param,
			  LIMIT_ACCOUNT_ID_BYTES);
		return -1;
	}
	/* A path segment is percent-decoded bytes: they must be UTF-8 too
	 * (jansson refuses anything else, and answers quote the id). */
	json_t *probe = json_string(id);
	if (probe == NULL) {
		api_error(rs, CD_E_INVALID, param, "%s must be valid UTF-8", param);
		return -1;
	}
	json_decref(probe);
	return 0;
}
