/* ledger_funded.c: a Stripe-funded credit, a Checkout top-up or an
 * auto-recharge (see ledger_funded.h).
 *
 * The three rows keep the same figures under the same names (credited,
 * refunded and disputed micros, Stripe's refunded cents, the charge id),
 * so that a refund or a dispute has one meaning whatever bought the
 * credit. Each statement exists once per table; which one runs is chosen
 * by the kind, never by building SQL. Never takes a lock before the
 * account's: the caller holds it. */
#include "ledger_config.h"
#include "ledger_funded.h"
#include "ledger_rows.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <string.h>

/* One table's statements, in the order of the functions below. */
struct funded_sql {
	const char *find, *lock, *change, *credited_now;
};

static const struct funded_sql topup_sql = {
	"SELECT id, account_id FROM topups WHERE status = 'credited' AND "
	"((? <> '' AND payment_intent = ?) OR (? <> '' AND charge_id = ?)) ORDER BY id LIMIT 1",
	"SELECT credited_micros, refunded_micros, disputed_micros, refunded_cents, amount_cents, "
	"COALESCE(paid_cents, -1), currency, COALESCE(charge_id, '') FROM topups WHERE id = ? FOR UPDATE",
	"UPDATE topups SET refunded_cents = ?, refunded_micros = ?, disputed_micros = ?, charge_id = ? WHERE id = ?",
	"SELECT id FROM topups WHERE payment_intent = ? AND status = 'credited' FOR UPDATE",
};

/* A recharge is paid in the configured currency (payment_succeeded
 * refuses another), so its row keeps none. */
static const struct funded_sql recharge_sql = {
	"SELECT id, account_id FROM recharges WHERE state = 'succeeded' AND "
	"((? <> '' AND payment_intent = ?) OR (? <> '' AND charge_id = ?)) ORDER BY id LIMIT 1",
	"SELECT credited_micros, refunded_micros, disputed_micros, refunded_cents, amount_cents, "
	"COALESCE(paid_cents, -1), '', COALESCE(charge_id, '') FROM recharges WHERE id = ? FOR UPDATE",
	"UPDATE recharges SET refunded_cents = ?, refunded_micros = ?, disputed_micros = ?, charge_id = ? WHERE id = ?",
	"SELECT id FROM recharges WHERE payment_intent = ? AND state = 'succeeded' FOR UPDATE",
};

/* An invoice is paid in the configured currency (invoice_paid refuses
 * another); what it bought is the invoice's grant, or its period's plan
 * credit (migration 030). */
static const struct funded_sql invoice_sql = {
	"SELECT id, account_id FROM invoice_credits WHERE "
	"((? <> '' AND payment_intent = ?) OR (? <> '' AND charge_id = ?)) ORDER BY id LIMIT 1",
	"SELECT credited_micros, refunded_micros, disputed_micros, refunded_cents, COALESCE(paid_cents, 0), "
	"COALESCE(paid_cents, -1), COALESCE(currency, ''), COALESCE(charge_id, '') FROM invoice_credits WHERE id = ? "
	"FOR UPDATE",
	"UPDATE invoice_credits SET refunded_cents = ?, refunded_micros = ?, disputed_micros = ?, charge_id = ? WHERE id = ?",
	"SELECT id FROM invoice_credits WHERE payment_intent = ? FOR UPDATE",
};

static const struct funded_sql *sql_of(enum funded_kind kind)
{
	return kind == FUNDED_RECHARGE ? &recharge_sql : kind == FUNDED_INVOICE ? &invoice_sql : &topup_sql;
}

enum cd_err ledger_funded_find(struct store *db, const char *payment_intent, const char *charge, struct funded *f)
{
	static const enum funded_kind kinds[] = {FUNDED_TOPUP, FUNDED_RECHARGE, FUNDED_INVOICE};
	_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == FUNDED_KINDS, "every kind is looked for");
	int e;
	assert(payment_intent != NULL);
	assert(charge != NULL);
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct dbstmt *s = store_exec(db, sql_of(kinds[i])->find, &e, "ssss", payment_intent, payment_intent,
					   charge, charge);
		if (s == NULL)
			return store_err(db, e, "funded lookup");
		int got = store_fetch(s);
		if (got < 0)
			return CD_E_INTERNAL;
		if (got == 1) {
			f->kind = kinds[i];
			f->id = store_i64(s, 0);
			f->account_id = store_i64(s, 1);
			assert(f->id > 0);	/* a row's id, of a credit's account */
			return CD_OK;
		}
	}
	return CD_E_NOT_FOUND;
}

enum cd_err ledger_funded_lock(struct store *db, struct funded *f)
{
	int e;
	assert(f->id > 0);
	struct dbstmt *s = store_exec(db, sql_of(f->kind)->lock, &e, "i", f->id);
	if (s == NULL)
		return store_err(db, e, "funded lock");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	f->credited = store_i64(s, 0);
	f->refunded = store_i64(s, 1);
	f->disputed = store_i64(s, 2);
	f->refunded_cents = store_i64(s, 3);
	f->amount_cents = store_i64(s, 4);
	f->paid_cents = store_i64(s, 5);
	ledger_rows_copy_text(f->currency, sizeof(f->currency), store_str(s, 6));
	ledger_rows_copy_text(f->charge_id, sizeof(f->charge_id), store_str(s, 7));
	f->locked_tx = db->tx_serial;
	if (f->kind == FUNDED_RECHARGE || f->currency[0] == '\0')
		ledger_rows_copy_text(f->currency, sizeof(f->currency), ledger_config_of(db->cfg)->stripe_currency);
	/* What the refund and dispute rules (money_rule.h) assert of their
	 * rows: refunds and disputes never take back more than was credited.
	 * A row written otherwise (by hand) is refused here, not asserted. */
	if (f->credited < 0 || f->refunded < 0 || f->disputed < 0 || f->refunded > f->credited ||
	    f->disputed > f->credited - f->refunded || f->refunded_cents < 0) {
		log_error("funded row %" PRId64 ": credited %" PRId64 ", refunded %" PRId64 ", disputed %" PRId64
			  ", refunded_cents %" PRId64 " out of range", f->id, f->credited, f->refunded, f->disputed,
			  f->refunded_cents);
		return CD_E_INTERNAL;
	}
	/* What the refund and dispute rules may take back: credited, less refunded. */
	assert(f->disputed <= f->credited - f->refunded);
	assert(f->currency[0] != '\0' || ledger_config_of(db->cfg)->stripe_currency[0] == '\0');
	return CD_OK;
}

enum cd_err ledger_funded_change(struct store *db, struct funded *f, int64_t refunded_cents, int64_t refunded_micros,
			  int64_t disputed_micros, const char *charge)
{
	int64_t refunded, disputed;
	/* Refunds only ever add up (Stripe's amount_refunded is cumulative). */
	assert(refunded_cents >= 0);
	assert(refunded_micros >= 0);
	assert(f->id > 0);
	/* Decided on the row as ledger_funded_lock read it, in this
	 * transaction (docs/architecture.md, "Which rows a write decides
	 * on"), and written as decided: the cents Stripe reported, never
	 * lowered; the micros moved; the first charge id known kept. */
	assert(f->locked_tx == db->tx_serial);
	if (money_add(f->refunded, refunded_micros, &refunded) != 0 || money_add(f->disputed, disputed_micros, &disputed) != 0)
		return CD_E_INTERNAL;
	int64_t cents = refunded_cents > f->refunded_cents ? refunded_cents : f->refunded_cents;
	const char *kept = f->charge_id[0] != '\0' ? f->charge_id : charge != NULL && charge[0] != '\0' ? charge : NULL;
	enum cd_err rc = store_do(db, sql_of(f->kind)->change, "funded change", "iiisi", cents, refunded, disputed, kept,
				  f->id);
	if (rc != CD_OK)
		return rc;
	f->refunded_cents = cents;
	f->refunded = refunded;
	f->disputed = disputed;
	if (kept != NULL && kept != f->charge_id)
		ledger_rows_copy_text(f->charge_id, sizeof(f->charge_id), kept);
	assert(f->refunded_cents >= refunded_cents);
	return CD_OK;
}

enum cd_err ledger_funded_meet(struct store *db, const char *payment_intent)
{
	static const char sql[] = "INSERT INTO payments_met (payment_intent, updated_at) VALUES (?, ?) "
				  "ON DUPLICATE KEY UPDATE met = met + 1, updated_at = VALUES(updated_at)";
	assert(payment_intent != NULL && payment_intent[0] != '\0');
	return store_do(db, sql, "payment met", "si", payment_intent, db->now);
}

enum cd_err ledger_funded_credited_now(struct store *db, const char *payment_intent, int *found)
{
	int e;
	assert(payment_intent != NULL);
	*found = 0;
	for (int kind = FUNDED_TOPUP; kind <= FUNDED_INVOICE && !*found; kind++) {
		struct dbstmt *s = store_exec(db, sql_of((enum funded_kind)kind)->credited_now, &e, "s", payment_intent);
		if (s == NULL)
			return store_err(db, e, "funded recheck");
		int got = store_fetch(s);
		if (got < 0)
			return CD_E_INTERNAL;
		*found = got == 1;
	}
	assert(*found == 0 || *found == 1);
	return CD_OK;
}
