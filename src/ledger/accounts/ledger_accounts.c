/* ledger_accounts.c: the operations on accounts: create, read, patch,
 * the journal page, grants, debits, and workspace members. Each opens its
 * account through ledger_due.h and changes it through the rows below. */
#include "ledger_plans.h"
#include "ledger_periods.h"
#include "ledger_alerts.h"
#include "ledger_events.h"
#include "ledger_payg.h"
#include "ledger_recharges.h"
#include "ledger_referrals.h"
#include "money_rule.h"
#include "keys.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Routes ---- */

static const char SQL_ACCT_ADD[] = "INSERT INTO accounts (ext_id, kind, overdraft_limit_micros, monthly_limit_micros, "
				   "low_balance_micros, plan, month_key, create_hash, created_at, daily_limit_micros, day_key, "
				   "payg_period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ACCT_HASH[] = "SELECT create_hash FROM accounts WHERE id = ?";
static const char SQL_ACCT_SEEN[] = "SELECT 1 FROM accounts WHERE ext_id = ?";

/* What makes two creations of one id the same: the settings with their
 * defaults filled in, hashed (for the API and creditctl alike). */
static void create_hash(const struct account_new *n, unsigned char hash[32])
{
	char canon[256 + LIMIT_EMAIL_BYTES];
	int len = snprintf(canon, sizeof(canon), "%s|%" PRId64 "|%" PRId64 "|%" PRId64 "|%s", n->kind,
			   n->overdraft_limit_micros, n->monthly_limit_micros, n->low_balance_micros, n->plan ? n->plan : "");
	/* Only when set: accounts made before daily limits keep their hash. */
	if (n->daily_limit_micros >= 0 && len > 0 && (size_t)len < sizeof(canon))
		len += snprintf(canon + len, sizeof(canon) - (size_t)len, "|d%" PRId64, n->daily_limit_micros);
	/* The same for rate limits. */
	if (n->requests_per_minute >= 0 && len > 0 && (size_t)len < sizeof(canon))
		len += snprintf(canon + len, sizeof(canon) - (size_t)len, "|r%" PRId64, n->requests_per_minute);
	if (n->tokens_per_minute >= 0 && len > 0 && (size_t)len < sizeof(canon))
		len += snprintf(canon + len, sizeof(canon) - (size_t)len, "|t%" PRId64, n->tokens_per_minute);
	/* And for the referral code, in lower case (codes match so). */
	if (n->referral_code != NULL && len > 0 && (size_t)len < sizeof(canon)) {
		int at = len;
		len += snprintf(canon + len, sizeof(canon) - (size_t)len, "|c%s", n->referral_code);
		for (int i = at; i < len && (size_t)i < sizeof(canon) - 1; i++)
			canon[i] = (char)tolower((unsigned char)canon[i]);
	}
	/* And for an email (alerts by email, sql/050). */
	if (n->email != NULL && len > 0 && (size_t)len < sizeof(canon))
		snprintf(canon + len, sizeof(canon) - (size_t)len, "|e%s", n->email);
	keys_sha256(canon, strlen(canon), hash);
}

static enum cd_err account_exists(struct store *db, const struct account_new *n, const unsigned char hash[32],
				  struct ledger_done *done)
{
	int e;
	struct acct a;
	/* The account locked first, as every writer of it does (on Galera by
	 * its row alone: docs/architecture.md, "On Galera"); its creation's
	 * hash never changes after, so it is read under that lock. */
	enum cd_err rc = ledger_due_lock(db, n->id, &a);
	if (rc == CD_E_NOT_FOUND)
		return store_retry(db, RETRY_RACE);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, SQL_ACCT_HASH, &e, "i", a.id);
	if (s == NULL)
		return store_err(db, e, "account lookup");
	if (store_fetch(s) != 1)
		return store_retry(db, RETRY_RACE);
	if (store_len(s, 0) != 32 || memcmp(store_str(s, 0), hash, 32) != 0)
		return refusal_set(&db->refusal, REFUSE_ACCOUNT_EXISTS, n->id, NULL);
	rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	done->kind = LEDGER_DONE_ACCOUNT_CREATE;
	done->u.account.created = 0;
	return ledger_rows_acct_view(db, &a, &done->u.account.account);
}

/* An account's email (NULL: none). */
static enum cd_err email_store(struct store *db, int64_t id, const char *email)
{
	return store_do(db, "UPDATE accounts SET email = ? WHERE id = ?", "account email", "si", email, id);
}

/* An account's rate limits (-1: none). */
static enum cd_err rate_limits_store(struct store *db, int64_t id, int64_t rpm, int64_t tpm)
{
	static const char sql[] = "UPDATE accounts SET requests_per_minute = ?, tokens_per_minute = ? WHERE id = ?";
	return store_do(db, sql, "rate limits", "IIi", rpm >= 0 ? &rpm : NULL, tpm >= 0 ? &tpm : NULL, id);
}

/* The account whose referral code the new account n gives: another
 * account's (an account cannot refer itself), else REFUSE_REFERRAL_UNKNOWN
 * (400, param referral_code) and nothing is created. */
static enum cd_err referrer_of(struct store *db, const struct account_new *n, int64_t *referrer_id)
{
	char owner[LEDGER_ID_MAX + 1];
	enum cd_err rc = ledger_referrals_owner(db, n->referral_code, referrer_id, owner, sizeof(owner));
	if (rc == CD_E_NOT_FOUND || (rc == CD_OK && strcmp(owner, n->id) == 0))
		return refusal_set(&db->refusal, REFUSE_REFERRAL_UNKNOWN, n->referral_code, NULL);
	return rc;
}

static enum cd_err account_create_op(struct store *db, const struct account_new *n, struct ledger_done *done)
{
	unsigned char hash[32];
	int e;
	enum cd_err pc = ledger_plans_check(db, n->plan);
	if (pc != CD_OK)
		return pc;
	create_hash(n, hash);
	int64_t referrer_id = 0;
	if (n->referral_code != NULL && (pc = referrer_of(db, n, &referrer_id)) != CD_OK)
		return pc;
	/* An id that exists is answered from its row, locked. Not by trying
	 * the INSERT first: a failed INSERT keeps a shared lock on the id's
	 * index entry to the end of the transaction, and concurrent creators
	 * of one id, each holding one and each then asking for the row's
	 * exclusive lock, deadlock one another (20 at once ran out of retries
	 * under load). A duplicate found by the INSERT (a creator committed
	 * meanwhile) rolls back, dropping that lock, and runs again. Marked on
	 * Galera before that lock, after the causal reads (sql/085, test_70). */
	pc = store_mark_all(db);
	struct dbstmt *seen = pc == CD_OK ? store_exec(db, SQL_ACCT_SEEN, &e, "s", n->id) : NULL;
	if (pc != CD_OK)
		return pc;
	if (seen == NULL)
		return store_err(db, e, "account lookup");
	if (store_fetch(seen) == 1)
		return account_exists(db, n, hash, done);
	const int64_t *monthly = n->monthly_limit_micros >= 0 ? &n->monthly_limit_micros : NULL;
	const int64_t *low = n->low_balance_micros >= 0 ? &n->low_balance_micros : NULL;
	const int64_t *daily = n->daily_limit_micros >= 0 ? &n->daily_limit_micros : NULL;
	/* An overdraft makes it pay-as-you-go from the month it is born in
	 * (ledger_payg.c); without one it has no period. */
	const int64_t payg = ledger_payg_period_before(db->now);
	struct dbstmt *s = store_exec(db, SQL_ACCT_ADD, &e, "ssiIIsibiIiI", n->id, n->kind, n->overdraft_limit_micros,
				   monthly, low, n->plan, db->now_month,
				   (const char *)hash, (size_t)32, db->now, daily, db->now_day,
				   n->overdraft_limit_micros > 0 ? &payg : NULL);
	if (s == NULL && e == ER_DUP_ENTRY)
		return store_retry(db, RETRY_RACE);
	if (s == NULL)
		return store_err(db, e, "account create");
	struct acct a;
	int64_t id = (int64_t)store_insert_id(s);
	enum cd_err rc = CD_OK;
	if (n->requests_per_minute >= 0 || n->tokens_per_minute >= 0)
		rc = rate_limits_store(db, id, n->requests_per_minute, n->tokens_per_minute);
	if (rc == CD_OK && referrer_id > 0)
		rc = ledger_referrals_record(db, id, referrer_id);
	if (rc == CD_OK && n->email != NULL)
		rc = email_store(db, id, n->email);
	if (rc == CD_OK)
		rc = ledger_due_open_id(db, id, &a);
	/* Opening it credited its plan for this period (ledger_due_apply):
	 * part of its creation, in this transaction. */
	if (rc == CD_OK && db->cfg->signup_bonus_micros > 0) {
		/* The bonus records the request's key, else "signup:<account>":
		 * an account is created once. */
		char key[JOURNAL_KEY_BYTES];
		const char *outer = ledger_rows_journal_key_push(db, key, "signup", n->id, 0);
		int64_t grant_id, journal_id;
		rc = ledger_rows_add_grant(db, &a, "signup_bonus", db->cfg->signup_bonus_micros, GRANT_PRIORITY_DEFAULT, -1,
				      "signup", "signup bonus", &grant_id, &journal_id);
		db->journal_key = outer;
	}
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	done->kind = LEDGER_DONE_ACCOUNT_CREATE;
	done->u.account.created = 1;
	return ledger_rows_acct_view(db, &a, &done->u.account.account);
}

enum cd_err ledger_account_create(struct store *db, const struct ledger_call *call, const struct account_new *n,
				  struct ledger_result *res)
{
	struct ledger_idem w;
	assert(n->id != NULL);
	assert(n->kind != NULL);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, account_create_op(db, n, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	/* An answer is the account named, made now or before. */
	assert(res->done.kind != LEDGER_DONE_ACCOUNT_CREATE || strcmp(res->done.u.account.account.id, n->id) == 0);
	return rc;
}

static enum cd_err account_get_tx(struct store *db, const char *id, struct ledger_account_view *out)
{
	struct acct a;
	enum cd_err rc = ledger_due_lock(db, id, &a);
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	return ledger_rows_acct_view(db, &a, out);
}

enum cd_err ledger_account_get(struct store *db, const char *id, struct ledger_account_view *out)
{
	struct store_tx t;
	assert(id != NULL);
	memset(out, 0, sizeof(*out));
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, account_get_tx(db, id, out));
	assert(t.rc != CD_OK || strcmp(out->id, id) == 0);
	return t.rc;
}

/* The patch's settings, applied to the locked row in memory (and the rate
 * limits and a recharge switched off stored): what account_patch_op then
 * writes. Refusals leave the row unwritten. */
static enum cd_err patch_apply(struct store *db, const struct account_patch *p, struct acct *a)
{
	enum cd_err rc = CD_OK;
	/* An admin's word is the reason from now on, whatever Stripe's was
	 * (docs/decisions.md, "Why an account is suspended"): "manual", or none once active. */
	if (p->status != NULL) {
		ledger_rows_copy_text(a->status, sizeof(a->status), p->status);
		ledger_rows_copy_text(a->status_reason, sizeof(a->status_reason),
				 strcmp(p->status, "active") == 0 ? NULL : "manual");
	}
	if (p->set_overdraft)
		a->overdraft = p->overdraft_limit_micros;
	if (p->set_monthly)
		a->monthly_limit = p->monthly_limit_micros;
	if (p->set_low)
		a->low_balance = p->low_balance_micros;
	/* A plan with more credits than this period's grants the difference
	 * now; one with fewer (or none) takes effect at the next period. */
	if (p->set_plan)
		ledger_rows_copy_text(a->plan, sizeof(a->plan), p->plan);
	if (p->set_plan && a->plan[0] != '\0')
		rc = ledger_periods_credit(db, a, a->plan, db->now, PERIOD_PLAN_SET, NULL);
	if (rc != CD_OK)
		return rc;
	if (p->set_daily)
		a->daily_limit = p->daily_limit_micros;
	if (p->set_rpm)
		a->rate.rpm = p->requests_per_minute;
	if (p->set_tpm)
		a->rate.tpm = p->tokens_per_minute;
	if ((p->set_rpm || p->set_tpm) && (rc = rate_limits_store(db, a->id, a->rate.rpm, a->rate.tpm)) != CD_OK)
		return rc;
	if (p->set_email && (rc = email_store(db, a->id, p->email)) != CD_OK)
		return rc;
	if (p->set_recharge && p->recharge_threshold_micros >= 0 && !a->recharge_card)
		return refusal_set(&db->refusal, REFUSE_NO_CARD, a->ext_id, NULL);
	if (p->set_recharge) {
		/* Set again (or off): failures start counting afresh, and what
		 * was queued under the old setting is not sent. */
		a->recharge_threshold = p->recharge_threshold_micros;
		a->recharge_amount_cents = p->recharge_threshold_micros >= 0 ? p->recharge_amount_cents : -1;
		a->recharge_failures = 0;
		rc = ledger_recharges_switch_off(db, a);
	}
	return rc;
}

/* What a patch decides on beside struct acct, read on the account's
 * locked row: when its monthly limit was set and what the month had
 * committed then (which may be below 0: a late settle under its hold
 * lowers the month's spend; committed_null: NULL), and the pay-as-you-go
 * period (-1: NULL). */
struct patch_row {
	int64_t monthly_set_at, monthly_committed, payg_period;
	int committed_null;
};

static enum cd_err patch_load(struct store *db, const struct acct *a, struct patch_row *r)
{
	static const char sql[] = "SELECT COALESCE(monthly_limit_set_at, -1), monthly_limit_set_committed_micros, "
				  "COALESCE(payg_period, -1) FROM accounts WHERE id = ? FOR UPDATE";
	int e;
	assert(a->locked_tx == db->tx_serial);
	struct dbstmt *s = store_exec(db, sql, &e, "i", a->id);
	if (s == NULL)
		return store_err(db, e, "account patch read");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	r->monthly_set_at = store_i64(s, 0);
	r->committed_null = store_null(s, 1);
	r->monthly_committed = r->committed_null ? 0 : store_i64(s, 1);
	r->payg_period = store_i64(s, 2);
	return CD_OK;
}

/* Writes the patched settings a, decided in C on the row as loaded (old:
 * its monthly limit before the patch; r: patch_load's) and written as
 * decided. A monthly limit that changes also records when, and what the
 * month had committed then (its spend and its pending holds): `creditctl
 * verify` warns of a spend above the new limit only up to that
 * (store_migrate.c). An overdraft makes it pay-as-you-go: collected from
 * the month it is in on (ledger_payg.c), unless it already was. */
static enum cd_err patch_store(struct store *db, const struct acct *a, int64_t old_monthly, struct patch_row r)
{
	static const char sql[] = "UPDATE accounts SET monthly_limit_set_committed_micros = ?, monthly_limit_set_at = ?, "
				  "status = ?, status_reason = ?, overdraft_limit_micros = ?, monthly_limit_micros = ?, "
				  "low_balance_micros = ?, plan = ?, daily_limit_micros = ?, payg_period = ? WHERE id = ?";
	const int64_t *monthly = a->monthly_limit >= 0 ? &a->monthly_limit : NULL;
	const int64_t *low = a->low_balance >= 0 ? &a->low_balance : NULL;
	const int64_t *daily = a->daily_limit >= 0 ? &a->daily_limit : NULL;
	if (a->monthly_limit != old_monthly) {
		if (money_add(a->month_spent, a->reserved, &r.monthly_committed) != 0)
			r.monthly_committed = LIMIT_BALANCE_MICROS_MAX;	/* a bound to warn under: more is only milder */
		r.committed_null = 0;
		r.monthly_set_at = db->now;
	}
	if (a->overdraft > 0 && r.payg_period < 0)
		r.payg_period = ledger_payg_period_before(db->now);
	return store_do(db, sql, "account patch", "IIssiIIsIIi", r.committed_null ? NULL : &r.monthly_committed,
			r.monthly_set_at >= 0 ? &r.monthly_set_at : NULL, a->status,
			a->status_reason[0] ? a->status_reason : NULL, a->overdraft, monthly, low,
			a->plan[0] ? a->plan : NULL, daily, r.payg_period >= 0 ? &r.payg_period : NULL, a->id);
}

static enum cd_err account_patch_op(struct store *db, const struct account_patch *p, struct ledger_done *done)
{
	struct acct a;
	enum cd_err rc = ledger_due_lock(db, p->id, &a);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc == CD_OK && p->set_plan)
		rc = ledger_plans_check(db, p->plan);
	if (rc != CD_OK)
		return rc;
	/* A debt already drawn on the credit line must stay within it
	 * (invariant 3): cutting the line below it is refused, not clamped. */
	if (p->set_overdraft && a.balance < -p->overdraft_limit_micros) {
		rc = refusal_set(&db->refusal, REFUSE_OVERDRAFT_BELOW_DEBT, a.ext_id, NULL);
		db->refusal.amount_micros = -a.balance;
		return rc;
	}
	struct patch_row r;
	const int64_t old_monthly = a.monthly_limit;
	rc = patch_load(db, &a, &r);
	if (rc == CD_OK)
		rc = patch_apply(db, p, &a);
	if (rc == CD_OK)
		rc = patch_store(db, &a, old_monthly, r);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	done->kind = LEDGER_DONE_ACCOUNT_PATCH;
	done->u.account.created = 0;
	return ledger_rows_acct_view(db, &a, &done->u.account.account);
}

enum cd_err ledger_account_patch(struct store *db, const struct ledger_call *call, const struct account_patch *p,
				 struct ledger_result *res)
{
	struct ledger_idem w;
	assert(p->id != NULL);
	assert(!p->set_overdraft || p->overdraft_limit_micros >= 0);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, account_patch_op(db, p, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	assert(res->done.kind != LEDGER_DONE_ACCOUNT_PATCH || strcmp(res->done.u.account.account.id, p->id) == 0);
	return rc;
}

/* A journal page with, on each row of cause usage, the usage record of its
 * charge (docs/api.md, "A row of cause `usage`"): a settle's by its hold
 * (usage_records.ix_hold), a POST /v1/usage's by its request_id (or, sent
 * without one, the key creditd made: ledger.h LEDGER_OWN_USAGE_PREFIX), which
 * is both the journal row's reference and the record's usage_key
 * (uq_usage_key). Both are indexed joins of the one statement, so a page
 * costs one round trip whatever its size. A hold captured on expiry records
 * no usage: nothing to show. With a member (`?` 4), only the usage rows whose record names that
 * member. A top-up's grant row has its receipt and invoice URLs
 * (docs/api.md, "receipt_url") from its topups row, by the session id that is
 * the row's reference (topups.uq_session): a third indexed join of the
 * statement. The hold's usage row is read by ix_hold alone: where one account
 * holds most of a small ledger's usage, MariaDB otherwise built a rowid
 * filter of all that account's usage rows (ix_account_time) for every page,
 * 21 ms for 12,500 rows against 3 ms (bench --growth). */
#define SQL_JOURNAL_PAGE(member_filter)                                                                       \
	"SELECT j.id, j.amount_micros, j.balance_after_micros, j.cause, j.source, j.reference, j.description, " \
	"j.created_at, IF(uh.id IS NULL, uk.id, uh.id), IF(uh.id IS NULL, uk.model, uh.model), "               \
	"IF(uh.id IS NULL, uk.input_tokens, uh.input_tokens), "                                                 \
	"IF(uh.id IS NULL, uk.cached_input_tokens, uh.cached_input_tokens), "                                   \
	"IF(uh.id IS NULL, uk.output_tokens, uh.output_tokens), IF(uh.id IS NULL, uk.member, uh.member), "      \
	"IF(uh.id IS NULL, uk.byok, uh.byok), t.receipt_url, t.invoice_url, t.invoice_pdf, "                    \
	"IF(uh.id IS NULL, uk.cache_write_input_tokens, uh.cache_write_input_tokens), "                         \
	"IF(uh.id IS NULL, uk.settle_reason, uh.settle_reason), IF(uh.id IS NULL, uk.over_hold, uh.over_hold), " \
	"IF(uh.id IS NULL, uk.usage_unknown, uh.usage_unknown), j.actor FROM journal j "                        \
	"LEFT JOIN usage_records uh FORCE INDEX (ix_hold) ON j.cause = 'usage' AND j.hold_id > 0 "               \
	"AND uh.hold_id = j.hold_id "                                                                           \
	"AND uh.account_id = j.account_id "                                                                     \
	"LEFT JOIN usage_records uk ON j.cause = 'usage' AND IFNULL(j.hold_id, 0) = 0 "                          \
	"AND uk.account_id = j.account_id AND uk.usage_key = j.reference "                                      \
	"LEFT JOIN topups t ON j.cause = 'grant' AND j.source = 'topup' AND t.session_id = j.reference "        \
	"AND t.account_id = j.account_id "                                                                      \
	"WHERE j.account_id = ? AND j.id < ? " member_filter "ORDER BY j.id DESC LIMIT ?"
static const char SQL_JOURNAL_PAGE_ALL[] = SQL_JOURNAL_PAGE("");
static const char SQL_JOURNAL_PAGE_MEMBER[] = SQL_JOURNAL_PAGE(
	"AND j.cause = 'usage' AND IF(uh.id IS NULL, uk.member, uh.member) = ? ");

static json_t *journal_row_json(const struct dbstmt *s)
{
	struct journal_entry e = {store_i64(s, 0), store_i64(s, 1), store_i64(s, 2), store_i64(s, 7), store_str(s, 3), store_str(s, 4),
				  store_str(s, 5), store_str(s, 6)};
	json_t *row = ledger_rows_journal_entry_json(&e);
	json_t *usage = json_null();
	/* settle_reason: the gateway's (docs/api.md, "Settle reasons"), null for the guard's own. */
	if (!store_null(s, 8))
		usage = json_pack("{s:o, s:I, s:I, s:I, s:I, s:o, s:b, s:o, s:b, s:b}", "model",
				  store_null(s, 9) ? json_null() : json_string(store_str(s, 9)),
				  "input_tokens", (json_int_t)store_i64(s, 10), "cached_input_tokens", (json_int_t)store_i64(s, 11),
				  "cache_write_input_tokens", (json_int_t)store_i64(s, 18),
				  "output_tokens", (json_int_t)store_i64(s, 12),
				  "member", store_null(s, 13) ? json_null() : json_string(store_str(s, 13)), "byok", store_i64(s, 14) != 0,
				  "settle_reason", store_null(s, 19) ? json_null() : json_string(store_str(s, 19)),
				  "over_hold", store_i64(s, 20) != 0, "usage_unknown", store_i64(s, 21) != 0);
	/* Who acted (sql/074): null on rows written before it. */
	if (row != NULL && json_object_set_new(row, "actor", store_null(s, 22) ? json_null() : json_string(store_str(s, 22))) != 0) {
		json_decref(row);
		json_decref(usage);
		return NULL;
	}
	if (row != NULL && json_object_set_new(row, "usage", usage) != 0) {
		json_decref(row);
		return NULL;
	}
	/* Absent until Stripe told us: never null. */
	static const char *const receipt_fields[] = {"receipt_url", "invoice_url", "invoice_pdf"};
	for (int i = 0; row != NULL && i < 3; i++) {
		if (!store_null(s, 15 + i) && json_object_set_new(row, receipt_fields[i], json_string(store_str(s, 15 + i))) != 0) {
			json_decref(row);
			return NULL;
		}
	}
	return row;
}

static enum cd_err transactions_tx(struct store *db, const char *id, const char *member, int limit, int64_t cursor,
				   json_t **out)
{
	struct acct a;
	struct dbstmt *s;
	int e;
	json_decref(*out);
	*out = NULL;
	enum cd_err rc = ledger_rows_acct_read(db, id, &a);
	if (rc != CD_OK)
		return rc;
	int64_t before = cursor > 0 ? cursor : INT64_MAX;
	if (member != NULL)
		s = store_exec(db, SQL_JOURNAL_PAGE_MEMBER, &e, "iisi", a.id, before, member, (int64_t)limit + 1);
	else
		s = store_exec(db, SQL_JOURNAL_PAGE_ALL, &e, "iii", a.id, before, (int64_t)limit + 1);
	if (s == NULL)
		return store_err(db, e, "journal page");
	json_t *data = json_array();
	int n = 0, more = 0;
	int64_t last = 0;
	while (store_fetch(s) == 1) {
		if (n == limit) {
			more = 1;
			break;
		}
		json_array_append_new(data, journal_row_json(s));
		last = store_i64(s, 0);
		n++;
	}
	char next[32];
	ledger_ids_format(next, sizeof(next), "txn_", last);
	*out = json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", more ? json_string(next) : json_null(),
			 "has_more", more);
	return CD_OK;
}

enum cd_err ledger_transactions(struct store *db, const char *id, const char *member, int limit, int64_t cursor,
				json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, transactions_tx(db, id, member, limit, cursor, out));
	return t.rc;
}

/* The journal row a write appended, and where it left the account. */
static void entry_done(struct store *db, const struct acct *a, int64_t journal_id, int64_t amount, const char *cause,
		       const char *source, const char *description, struct ledger_entry_done *e)
{
	e->journal_id = journal_id;
	e->amount_micros = amount;
	e->balance_micros = a->balance;
	e->available_micros = ledger_rows_acct_available(a);
	e->created_at = db->now;
	ledger_rows_copy_text(e->account, sizeof(e->account), a->ext_id);
	ledger_rows_copy_text(e->cause, sizeof(e->cause), cause);
	e->has_source = source != NULL;
	ledger_rows_copy_text(e->source, sizeof(e->source), source);
	e->has_description = description != NULL;
	ledger_rows_copy_text(e->description, sizeof(e->description), description);
}

static enum cd_err grant_op(struct store *db, const struct grant_new *g, struct ledger_done *done)
{
	struct acct a;
	int64_t grant_id, journal_id;
	enum cd_err rc = ledger_due_lock(db, g->account, &a);
	if (rc == CD_OK && g->expires_at >= 0 && g->expires_at <= db->now)
		return refusal_set(&db->refusal, REFUSE_GRANT_EXPIRED, NULL, NULL);
	if (rc == CD_OK)
		rc = ledger_rows_add_grant(db, &a, g->source, g->amount_micros, g->priority, g->expires_at, NULL,
				      g->description, &grant_id, &journal_id);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	assert(grant_id > 0);
	assert(journal_id > 0);
	done->kind = LEDGER_DONE_GRANT;
	done->u.grant.grant_id = grant_id;
	done->u.grant.priority = g->priority;
	done->u.grant.expires_at = g->expires_at;
	entry_done(db, &a, journal_id, g->amount_micros, "grant", g->source, g->description, &done->u.grant.entry);
	return CD_OK;
}

enum cd_err ledger_grant(struct store *db, const struct ledger_call *call, const struct grant_new *g,
			 struct ledger_result *res)
{
	struct ledger_idem w;
	assert(g->amount_micros > 0);
	assert(g->source != NULL);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, grant_op(db, g, w.done));
	return ledger_idem_end(db, &w, res);
}

/* A debit in the shape of every operation: load (the account locked and
 * brought due), decide (money_rule_debit, pure), write (the spend's
 * journal row and the account through the writer), answer. */
static enum cd_err debit_op(struct store *db, const struct debit_new *d, struct ledger_done *done)
{
	struct acct a;
	struct debit_effect e;
	int64_t journal_id = 0;
	assert(d->amount_micros > 0);
	assert(d->amount_micros <= LIMIT_AMOUNT_MICROS_MAX);
	enum cd_err rc = ledger_due_lock(db, d->account, &a);
	if (rc != CD_OK)
		return rc;
	int64_t available = ledger_rows_acct_available(&a);
	money_rule_debit(a.balance, available, d->amount_micros, &e);
	if (e.refused)
		return refusal_set_amounts(&db->refusal, REFUSE_DEBIT_INSUFFICIENT, available, d->amount_micros);
	if (e.out_of_range)
		return refusal_set_range(&db->refusal, REFUSE_OUT_OF_RANGE, "balance", d->amount_micros, "amount_micros");
	rc = ledger_rows_spend(db, &a, d->amount_micros, "adjustment", 0, NULL, d->reason, &journal_id);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	assert(a.balance == e.balance_after);
	assert(journal_id > 0);
	done->kind = LEDGER_DONE_DEBIT;
	entry_done(db, &a, journal_id, -d->amount_micros, "adjustment", NULL, d->reason, &done->u.debit);
	return CD_OK;
}

enum cd_err ledger_debit(struct store *db, const struct ledger_call *call, const struct debit_new *d,
			 struct ledger_result *res)
{
	struct ledger_idem w;
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, debit_op(db, d, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	/* A debit's row takes money off. */
	assert(res->done.kind != LEDGER_DONE_DEBIT || res->done.u.debit.amount_micros == -d->amount_micros);
	return rc;
}

/* ---- Workspace members ---- */

/* The fields a POST …/members sets, each only when given. */
static const char SQL_MEMBER_SET[] = "UPDATE members SET monthly_cap_micros = ?, requests_per_minute = ?, "
	"tokens_per_minute = ? WHERE account_id = ? AND member = ?";
static void member_done(const struct acct *a, const struct member_row *m, int created, struct ledger_done *done)
{
	struct ledger_member_done *d = &done->u.member;
	done->kind = LEDGER_DONE_MEMBER_PUT;
	d->created = created;
	ledger_rows_copy_text(d->account, sizeof(d->account), a->ext_id);
	ledger_rows_copy_text(d->member, sizeof(d->member), m->member);
	d->monthly_cap_micros = m->cap >= 0 ? m->cap : -1;
	d->month_spent_micros = m->month_spent;
	d->reserved_micros = m->reserved;
	d->requests_per_minute = m->rate.rpm;
	d->tokens_per_minute = m->rate.tpm;
}

/* A member as its own browser token shows it (docs/api.md, "Widget"): the cap that
 * binds it (its own, else its plan's) and what is left of it this month,
 * never below 0; null without a cap. */
static enum cd_err member_get_tx(struct store *db, const char *account, const char *member, json_t **out)
{
	struct acct a;
	struct member_row m;
	int64_t plan_cap;
	json_decref(*out);
	*out = NULL;
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	if (rc == CD_OK)
		rc = ledger_members_read(db, &a, member, &m, &plan_cap);
	if (rc != CD_OK)
		return rc;
	int64_t cap = m.cap >= 0 ? m.cap : plan_cap;
	int64_t left = cap >= 0 ? money_left(cap, m.month_spent, m.reserved) : 0;
	*out = json_pack("{s:s, s:o, s:I, s:I, s:o}", "member", m.member,
			 "monthly_cap_micros", cap >= 0 ? json_integer((json_int_t)cap) : json_null(),
			 "month_spent_micros", (json_int_t)m.month_spent, "reserved_micros", (json_int_t)m.reserved,
			 "remaining_micros", cap >= 0 ? json_integer(left > 0 ? (json_int_t)left : 0) : json_null());
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_member_get(struct store *db, const char *account, const char *member, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, member_get_tx(db, account, member, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

static enum cd_err member_put_op(struct store *db, const struct member_put *p, struct ledger_done *done)
{
	struct acct a;
	struct member_row m;
	enum cd_err rc = ledger_due_lock(db, p->account, &a);
	if (rc != CD_OK)
		return rc;
	if (strcmp(a.kind, "workspace") != 0)
		return refusal_set(&db->refusal, REFUSE_NOT_WORKSPACE, a.ext_id, NULL);
	/* Made under the account lock like the guard's rows (sql/086; ledger_members_create:
	 * its reserve is the member's pending holds, which their settles and
	 * releases then take back off), then given what the request sets. */
	rc = ledger_members_lock(db, &a, p->member, &m);
	int created = rc == CD_E_NOT_FOUND;
	if (created)
		rc = ledger_members_create(db, &a, p->member, &m);
	if (rc != CD_OK)
		return rc;
	if (p->set_cap || p->set_rpm || p->set_tpm) {
		/* Each field the request sets, the others as the locked row has them (-1: NULL). */
		const int64_t cap = p->set_cap ? p->monthly_cap_micros : m.cap;
		const int64_t rpm = p->set_rpm ? p->requests_per_minute : m.rate.rpm;
		const int64_t tpm = p->set_tpm ? p->tokens_per_minute : m.rate.tpm;
		rc = store_do(db, SQL_MEMBER_SET, "member update", "IIIis", cap >= 0 ? &cap : NULL, rpm >= 0 ? &rpm : NULL,
			      tpm >= 0 ? &tpm : NULL, a.id, p->member);
		if (rc == CD_OK && p->set_cap)	/* its cap alerts decided against the new cap */
			rc = ledger_alerts_member_rearm(db, &a, p->member);
		if (rc != CD_OK)
			return rc;
		rc = ledger_members_lock(db, &a, p->member, &m);
	}
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	member_done(&a, &m, created, done);
	return CD_OK;
}

enum cd_err ledger_member_put(struct store *db, const struct ledger_call *call, const struct member_put *p,
			      struct ledger_result *res)
{
	struct ledger_idem w;
	assert(p->account != NULL);
	assert(p->member != NULL);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, member_put_op(db, p, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	assert(res->done.kind != LEDGER_DONE_MEMBER_PUT || strcmp(res->done.u.member.member, p->member) == 0);
	return rc;
}

static enum cd_err member_delete_op(struct store *db, const struct member_put *p, struct ledger_done *done)
{
	struct acct a;
	int e;
	enum cd_err rc = ledger_due_lock(db, p->account, &a);
	if (rc == CD_E_NOT_FOUND)
		return refusal_set(&db->refusal, REFUSE_MEMBER_UNKNOWN, p->account, p->member);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, "DELETE FROM members WHERE account_id = ? AND member = ?", &e, "is", a.id,
				   p->member);
	if (s == NULL)
		return store_err(db, e, "member delete");
	if (store_affected(s) == 0)
		return refusal_set(&db->refusal, REFUSE_MEMBER_UNKNOWN, p->account, p->member);
	rc = ledger_alerts_member_rearm(db, &a, p->member);
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	if (rc != CD_OK)
		return rc;
	done->kind = LEDGER_DONE_MEMBER_DELETE;
	ledger_rows_copy_text(done->u.member_gone.account, sizeof(done->u.member_gone.account), a.ext_id);
	ledger_rows_copy_text(done->u.member_gone.member, sizeof(done->u.member_gone.member), p->member);
	return CD_OK;
}

enum cd_err ledger_member_delete(struct store *db, const struct ledger_call *call, const struct member_put *p,
				 struct ledger_result *res)
{
	struct ledger_idem w;
	assert(p->account != NULL);
	assert(p->member != NULL);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, member_delete_op(db, p, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	assert(res->done.kind != LEDGER_DONE_MEMBER_DELETE || strcmp(res->done.u.member_gone.member, p->member) == 0);
	return rc;
}
