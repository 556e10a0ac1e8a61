/* ledger_promo.c: promo codes (docs/api.md, "POST /v1/promo_codes").
 *
 * A code is stored as written and matched by its lower-case form (a
 * unique key, so "SPRING" and "spring" are one code). Redeeming locks the
 * account first, like every operation, then the code's row: concurrent
 * redemptions of one code queue on that row, so max_redemptions is never
 * passed, and the (code, account) key makes a second redemption by the
 * same account impossible whatever races. The credit is an ordinary promo
 * grant, with its journal row. */
#include "ledger_due.h"
#include "ledger_events.h"
#include "money_rule.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#define PROMO_COLS "code, amount_micros, max_redemptions, redeemed, expires_at, grant_ttl_days, created_at"
static const char SQL_PROMO_ADD[] = "INSERT INTO promo_codes (code, code_key, amount_micros, max_redemptions, "
				    "expires_at, grant_ttl_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_PROMO_LOCK[] = "SELECT id, " PROMO_COLS " FROM promo_codes WHERE code_key = ? FOR UPDATE";
static const char SQL_PROMO_REDEEMED_BY[] = "SELECT 1 FROM promo_redemptions WHERE promo_id = ? AND account_id = ?";
static const char SQL_REDEMPTION_ADD[] = "INSERT INTO promo_redemptions (promo_id, account_id, grant_id, created_at) "
					 "VALUES (?, ?, ?, ?)";
static const char SQL_PROMO_COUNT[] = "UPDATE promo_codes SET redeemed = redeemed + 1 WHERE id = ?";
static const char SQL_PROMO_LIST[] = "SELECT id, " PROMO_COLS " FROM promo_codes WHERE id > ? ORDER BY id LIMIT ?";

/* The code's key: its lower-case form (codes are ASCII, checked by the API). */
static void code_key(char out[LIMIT_PROMO_CODE_BYTES + 1], const char *code)
{
	size_t i = 0;
	for (; code[i] != '\0' && i < LIMIT_PROMO_CODE_BYTES; i++)
		out[i] = (char)tolower((unsigned char)code[i]);
	out[i] = '\0';
}

/* A code as the API shows it, from columns 1.. of a PROMO_COLS row. */
static json_t *promo_json(const struct dbstmt *s)
{
	return json_pack("{s:s, s:I, s:o, s:I, s:o, s:o, s:o}", "code", store_str(s, 1), "amount_micros",
			 (json_int_t)store_i64(s, 2), "max_redemptions", ledger_rows_json_int(DB_I64_OR_NONE(s, 3)),
			 "redeemed", (json_int_t)store_i64(s, 4), "expires_at", ledger_rows_json_time(DB_I64_OR_NONE(s, 5)),
			 "grant_ttl_days", ledger_rows_json_int(DB_I64_OR_NONE(s, 6)), "created_at",
			 ledger_rows_json_time(store_i64(s, 7)));
}

/* A code as it was stored, from columns 1.. of a PROMO_COLS row. */
static void promo_done(const struct dbstmt *s, struct ledger_promo_done *d)
{
	ledger_rows_copy_text(d->code, sizeof(d->code), store_str(s, 1));
	d->amount_micros = store_i64(s, 2);
	d->max_redemptions = DB_I64_OR_NONE(s, 3);
	d->redeemed = store_i64(s, 4);
	d->expires_at = DB_I64_OR_NONE(s, 5);
	d->grant_ttl_days = DB_I64_OR_NONE(s, 6);
	d->created_at = store_i64(s, 7);
}

static enum cd_err create_op(struct store *db, const struct promo_new *p, struct ledger_done *done)
{
	char key[LIMIT_PROMO_CODE_BYTES + 1];
	int e;
	const int64_t *max = p->max_redemptions >= 0 ? &p->max_redemptions : NULL;
	const int64_t *exp = p->expires_at >= 0 ? &p->expires_at : NULL;
	const int64_t *ttl = p->grant_ttl_days >= 0 ? &p->grant_ttl_days : NULL;
	if (p->expires_at >= 0 && p->expires_at <= db->now)
		return refusal_set(&db->refusal, REFUSE_GRANT_EXPIRED, NULL, NULL);
	code_key(key, p->code);
	struct dbstmt *s = store_exec(db, SQL_PROMO_ADD, &e, "ssiIIIi", p->code, key, p->amount_micros, max, exp, ttl,
				   db->now);
	if (s == NULL && e == ER_DUP_ENTRY)
		return refusal_set(&db->refusal, REFUSE_PROMO_EXISTS, p->code, NULL);
	if (s == NULL)
		return store_err(db, e, "promo insert");
	s = store_exec(db, SQL_PROMO_LOCK, &e, "s", key);
	if (s == NULL)
		return store_err(db, e, "promo read");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	done->kind = LEDGER_DONE_PROMO_CREATE;
	promo_done(s, &done->u.promo);
	return CD_OK;
}

enum cd_err ledger_promo_create(struct store *db, const struct ledger_call *call, const struct promo_new *p,
				struct ledger_result *res)
{
	struct ledger_idem w;
	/* The API's and creditctl's checks: one grant's amount, 1 micro at least. */
	assert(p->amount_micros > 0);
	assert(p->amount_micros <= LIMIT_AMOUNT_MICROS_MAX);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, create_op(db, p, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	/* The code stored is the one asked for, with its amount. */
	assert(res->done.kind != LEDGER_DONE_PROMO_CREATE || res->done.u.promo.amount_micros == p->amount_micros);
	return rc;
}

struct redeem { const char *account, *code; };

/* The code exists (else a refusal), then money_rule_promo over its
 * locked row: this account has it already; it expired; it is used up;
 * else the grant. */
static enum cd_err redeem_op(struct store *db, const struct redeem *r, struct ledger_done *done)
{
	char key[LIMIT_PROMO_CODE_BYTES + 1], ref[LIMIT_PROMO_CODE_BYTES + 8], gid[32];
	struct ledger_redeem_done *out = &done->u.redeem;
	struct acct a;
	int e;
	int64_t grant_id, journal_id;
	enum cd_err rc = ledger_due_lock(db, r->account, &a);
	if (rc != CD_OK)
		return rc;
	code_key(key, r->code);
	struct dbstmt *s = store_exec(db, SQL_PROMO_LOCK, &e, "s", key);
	if (s == NULL)
		return store_err(db, e, "promo lookup");
	if (store_fetch(s) != 1)
		return refusal_set(&db->refusal, REFUSE_PROMO_UNKNOWN, r->code, NULL);
	int64_t promo_id = store_i64(s, 0), amount = store_i64(s, 2);
	int64_t max = DB_I64_OR_NONE(s, 3), redeemed = store_i64(s, 4);
	int64_t expires = DB_I64_OR_NONE(s, 5), ttl = DB_I64_OR_NONE(s, 6);
	if (redeemed < 0 || ttl > LIMIT_PROMO_GRANT_TTL_DAYS_MAX) {
		/* Rows the API never writes (edited by hand): the rule asserts a
		 * count, and a grant past year 9999 has no time to show. */
		log_error("promo code %s: redeemed %" PRId64 ", grant_ttl_days %" PRId64 " out of range",
			  store_str(s, 1), redeemed, ttl);
		return CD_E_INTERNAL;
	}
	snprintf(ref, sizeof(ref), "promo:%s", store_str(s, 1));
	struct dbstmt *d = store_exec(db, SQL_PROMO_REDEEMED_BY, &e, "ii", promo_id, a.id);
	if (d == NULL)
		return store_err(db, e, "redemption lookup");
	struct promo_case c = {.redeemed_by_account = store_fetch(d) == 1, .expires_at = expires, .max = max,
			       .redeemed = redeemed, .ttl_days = ttl, .now = db->now};
	int64_t grant_expires;
	static const enum refusal_why why[] = {[PROMO_REDEEMED] = REFUSE_PROMO_REDEEMED,
					       [PROMO_EXPIRED] = REFUSE_PROMO_EXPIRED,
					       [PROMO_EXHAUSTED] = REFUSE_PROMO_EXHAUSTED};
	enum promo_verdict v = money_rule_promo(&c, &grant_expires);
	if (v != PROMO_GRANT)
		return refusal_set(&db->refusal, why[v], r->code, NULL);
	assert(a.locked_tx == db->tx_serial);
	const int64_t before = a.balance;
	rc = ledger_rows_add_grant(db, &a, "promo", amount, GRANT_PRIORITY_DEFAULT, grant_expires, ref,
			      "promo code", &grant_id, &journal_id);
	assert(rc != CD_OK || a.balance == before + amount);
	if (rc == CD_OK)
		rc = store_do(db, SQL_REDEMPTION_ADD, "redemption insert", "iiii", promo_id, a.id, grant_id, db->now);
	if (rc == CD_OK)
		rc = store_do(db, SQL_PROMO_COUNT, "promo count", "i", promo_id);
	ledger_ids_format(gid, sizeof(gid), "grant_", grant_id);
	if (rc == CD_OK)
		rc = ledger_events_add(db, &a, EVENT_PROMO_REDEEMED, json_pack("{s:s, s:I, s:s, s:o}", "code", ref + 6,
			       "amount_micros", (json_int_t)amount, "grant_id", gid, "expires_at",
			       ledger_rows_json_time(grant_expires)));
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	done->kind = LEDGER_DONE_PROMO_REDEEM;
	out->grant_id = grant_id;
	ledger_rows_copy_text(out->account, sizeof(out->account), a.ext_id);
	ledger_rows_copy_text(out->code, sizeof(out->code), ref + 6);
	out->amount_micros = amount;
	out->expires_at = grant_expires;
	out->balance_micros = a.balance;
	out->available_micros = ledger_rows_acct_available(&a);
	return CD_OK;
}

enum cd_err ledger_promo_redeem(struct store *db, const struct ledger_call *call, const char *account,
				const char *code, struct ledger_result *res)
{
	struct redeem r = {account, code};
	struct ledger_idem w;
	assert(account != NULL);
	assert(code != NULL);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, redeem_op(db, &r, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	/* A redemption credits the account that redeemed. */
	assert(res->done.kind != LEDGER_DONE_PROMO_REDEEM || strcmp(res->done.u.redeem.account, account) == 0);
	return rc;
}

static enum cd_err list_tx(struct store *db, int64_t after_id, int cap, json_t *page, int64_t *last_id)
{
	int e;
	json_array_clear(page);	/* a retried transaction starts the page again */
	*last_id = after_id;
	struct dbstmt *s = store_exec(db, SQL_PROMO_LIST, &e, "ii", after_id, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "promo list");
	while (store_fetch(s) == 1) {
		if (json_array_append_new(page, promo_json(s)) != 0)
			return CD_E_INTERNAL;
		*last_id = store_i64(s, 0);
	}
	return CD_OK;
}

enum cd_err ledger_promo_list(struct store *db, int64_t after_id, int cap, json_t **page, int64_t *last_id)
{
	struct store_tx t;
	assert(cap > 0);
	*page = json_array();
	*last_id = after_id;
	if (*page == NULL)
		return CD_E_INTERNAL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, after_id, cap, *page, last_id));
	if (t.rc != CD_OK) {
		json_decref(*page);
		*page = NULL;
	}
	assert(t.rc != CD_OK || *last_id >= after_id);	/* pages only go forward */
	return t.rc;
}
