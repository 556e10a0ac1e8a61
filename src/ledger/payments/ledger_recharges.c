/* ledger_recharges.c: auto-recharges (see ledger_recharges.h and
 * ledger.h): queued in the transaction of the change that calls for one
 * (ledger_events.h), claimed and sent by the recharge thread (recharge.c),
 * ended here. A recharge row moves queued → sent → succeeded | failed, or
 * queued → failed; it is credited at most once (its row is locked and its
 * state checked first), and its Stripe Idempotency-Key is its id. Once
 * credited it is a Stripe-funded credit like a top-up (ledger_funded.h):
 * refunds and disputes take it back. */
#include "ledger_recharges.h"
#include "ledger_events.h"
#include "ledger_hooks.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include "timefmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_LOCK[] = "SELECT state, amount_cents FROM recharges WHERE id = ? AND account_id = ? AND "
			       "kind = 'recharge' FOR UPDATE";

/* The recharge's state (into state) when it is a's; 0 when not found. */
static enum cd_err lock_recharge(struct store *db, const struct acct *a, int64_t id, char state[16], int64_t *cents)
{
	int e, got;
	struct dbstmt *s = store_exec(db, SQL_LOCK, &e, "ii", id, a->id);
	if (s == NULL)
		return store_err(db, e, "recharge lock");
	if ((got = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	state[0] = '\0';
	if (got == 1) {
		ledger_rows_copy_text(state, 16, store_str(s, 0));
		*cents = store_i64(s, 1);
	}
	return CD_OK;
}

enum cd_err ledger_recharges_credit(struct store *db, struct acct *a, int64_t id, const char *pi, int64_t cents,
			    int *credited)
{
	static const char sql[] = "UPDATE recharges SET state = 'succeeded', payment_intent = ?, credited_micros = ?, "
				  "paid_cents = ?, grant_id = ?, updated_at = ?, error = NULL WHERE id = ?";
	char state[16], gid[32];
	int64_t queued_cents = 0, grant_id, journal_id;
	/* A recharge's row (metadata.recharge > 0, or the sender's claim), on its locked account. */
	assert(id > 0);
	assert(pi != NULL);
	assert(a->locked_tx == db->tx_serial);
	*credited = 0;
	enum cd_err rc = lock_recharge(db, a, id, state, &queued_cents);
	if (rc != CD_OK || state[0] == '\0' || strcmp(state, "succeeded") == 0)
		return rc;
	/* A late success of a recharge failed already is money received: it
	 * is credited, but it is not the one in flight (if any). */
	int in_flight = strcmp(state, "failed") != 0;
	if (cents <= 0)
		cents = queued_cents;
	int64_t micros = ledger_topups_cents_to_micros(db, cents);
	/* docs/api.md, "Money stays in range": no single grant above LIMIT_AMOUNT_MICROS_MAX. The
	 * recharge is left as it is, as a payment in the wrong currency is,
	 * and the event acknowledged: a retry would change nothing. */
	if (micros < 0 || micros > LIMIT_AMOUNT_MICROS_MAX) {
		log_warn("account %s: auto-recharge %" PRId64 " paid %" PRId64 " cents, above the largest single grant "
			 "(%lld micros), not credited", a->ext_id, id, cents, (long long)LIMIT_AMOUNT_MICROS_MAX);
		*credited = -1;
		return CD_OK;
	}
	const int64_t before = a->balance;
	rc = ledger_rows_add_grant(db, a, "topup", micros, GRANT_PRIORITY_DEFAULT, -1, pi, "auto-recharge", &grant_id,
			      &journal_id);
	assert(rc != CD_OK || a->balance == before + micros);	/* credited what was paid, once */
	if (rc == CD_OK)
		rc = store_do(db, sql, "recharge credit", "siiiii", pi, micros, cents, grant_id, db->now, id);
	if (in_flight)
		a->recharge_pending = 0;
	a->recharge_failures = 0;
	ledger_ids_format(gid, sizeof(gid), "grant_", grant_id);
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_AUTORECHARGE_SUCCEEDED, json_pack("{s:I, s:I, s:I, s:s, s:s}", "recharge_id",
			       (json_int_t)id, "amount_cents", (json_int_t)cents, "amount_micros", (json_int_t)micros,
			       "payment_intent", pi, "grant_id", gid));
	/* A dispute of this payment that came first waited for this credit. */
	struct funded f = {.kind = FUNDED_RECHARGE, .id = id, .account_id = a->id};
	if (rc == CD_OK)
		rc = ledger_disputes_apply_waiting(db, a, &f, pi);
	*credited = rc == CD_OK;
	return rc;
}

enum cd_err ledger_recharges_fail(struct store *db, struct acct *a, int64_t id, const char *error, int *failed)
{
	static const char sql[] = "UPDATE recharges SET state = 'failed', error = ?, updated_at = ? WHERE id = ?";
	char state[16];
	int64_t cents = 0;
	assert(id > 0);
	assert(a->locked_tx == db->tx_serial);
	const int64_t failures = a->recharge_failures;
	*failed = 0;
	char cut[LIMIT_RECHARGE_ERROR_BYTES + 1];
	enum cd_err rc = lock_recharge(db, a, id, state, &cents);
	if (rc != CD_OK || state[0] == '\0' || strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0)
		return rc;
	ledger_recharges_error_cut(cut, error);
	error = cut;
	rc = store_do(db, sql, "recharge failure", "sii", error, db->now, id);
	a->recharge_pending = 0;
	a->recharge_failures++;
	int off = a->recharge_failures >= RECHARGE_FAILURES_OFF && a->recharge_threshold >= 0;
	if (off) {
		log_warn("account %s: auto-recharge switched off after %d failures in a row", a->ext_id,
			 RECHARGE_FAILURES_OFF);
		a->recharge_threshold = a->recharge_amount_cents = -1;
	}
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_AUTORECHARGE_FAILED, json_pack("{s:I, s:I, s:s, s:I, s:b}", "recharge_id",
			       (json_int_t)id, "amount_cents", (json_int_t)cents, "error", error, "failures_in_a_row",
			       (json_int_t)a->recharge_failures, "disabled", off));
	*failed = rc == CD_OK;
	/* Counted once, none in flight any more. */
	assert(a->recharge_failures == failures + 1);
	assert(!a->recharge_pending);
	return rc;
}

enum cd_err ledger_recharges_hold_for_dispute(struct store *db, struct acct *a, int64_t id)
{
	static const char sql[] = "UPDATE recharges SET state = 'failed', error = ?, updated_at = ? WHERE id = ? "
				  "AND state = 'queued'";
	static const char why[] = "not sent: a dispute is open on the account";
	char state[16];
	int64_t cents = 0;
	int open = 0;
	assert(id > 0);
	assert(a->locked_tx == db->tx_serial);
	const int64_t failures = a->recharge_failures;
	enum cd_err rc = lock_recharge(db, a, id, state, &cents);
	if (rc == CD_OK && strcmp(state, "queued") == 0)
		rc = ledger_disputes_open_on(db, a, &open);
	if (rc != CD_OK || !open)
		return rc;	/* sent meanwhile, or the dispute closed: the sender decides again */
	rc = store_do(db, sql, "recharge held", "sii", why, db->now, id);
	/* Not a failure of the card's: not counted toward switching
	 * auto-recharge off. A new one may be queued once the dispute is won. */
	a->recharge_pending = 0;
	a->dirty = 1;
	log_info("account %s: auto-recharge %" PRId64 " not sent: a dispute is open on the account", a->ext_id, id);
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_AUTORECHARGE_FAILED, json_pack("{s:I, s:I, s:s, s:I, s:b}", "recharge_id",
			       (json_int_t)id, "amount_cents", (json_int_t)cents, "error", why, "failures_in_a_row",
			       (json_int_t)a->recharge_failures, "disabled", 0));
	/* Not the card's failure: not counted toward switching it off. */
	assert(a->recharge_failures == failures);
	assert(!a->recharge_pending);
	return rc;
}

void ledger_recharges_error_cut(char out[LIMIT_RECHARGE_ERROR_BYTES + 1], const char *error)
{
	size_t n = strlen(error != NULL ? error : "");
	assert(out != NULL);
	if (n > LIMIT_RECHARGE_ERROR_BYTES) {
		n = LIMIT_RECHARGE_ERROR_BYTES;
		while (n > 0 && ((unsigned char)error[n] & 0xc0) == 0x80)
			n--;	/* never half a UTF-8 character */
	}
	memcpy(out, error != NULL ? error : "", n);
	out[n] = '\0';
	assert(strlen(out) <= LIMIT_RECHARGE_ERROR_BYTES);
}

enum cd_err ledger_recharges_switch_off(struct store *db, struct acct *a)
{
	static const char sql_off[] = "UPDATE recharges SET state = 'failed', error = 'auto-recharge switched off', "
				      "updated_at = ? WHERE account_id = ? AND state = 'queued' AND kind = 'recharge'";
	static const char sql_sent[] = "SELECT COUNT(*) FROM recharges WHERE account_id = ? AND state = 'sent' AND "
				       "kind = 'recharge'";
	int e;
	assert(a->id > 0);
	assert(a->locked_tx == db->tx_serial);
	enum cd_err rc = store_do(db, sql_off, "recharge off", "ii", db->now, a->id);
	struct dbstmt *s = rc == CD_OK ? store_exec(db, sql_sent, &e, "i", a->id) : NULL;
	if (rc == CD_OK && s == NULL)
		rc = store_err(db, e, "recharges sent");
	if (rc == CD_OK && store_fetch(s) == 1)
		a->recharge_pending = store_i64(s, 0) > 0;
	return rc;
}
