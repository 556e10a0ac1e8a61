/* ledger_payg.c: pay-as-you-go collection (see ledger_payg.h and
 * ledger.h). An account allowed an overdraft (overdraft_limit_micros > 0)
 * with a saved card has what it owes once a month is over charged to the
 * card: at the first sweep of the month, or when creditctl collect says
 * so. A collection is a recharges row of kind 'payg', unique per account
 * and period (the month it collects), sent by the recharge sender
 * (recharge.c) with the Idempotency-Key payg-<salt>-<account>-<YYYY-MM>-<try>.
 *
 * The sweep visits each pay-as-you-go account once per period, through
 * accounts.payg_period (the last period it looked at the account for;
 * NULL for accounts that cannot owe, so they are never read): an account
 * that owes nothing then is not collected for that period later, its
 * debt waits for the next month. The visit and the collection's row are
 * written under the account's lock, and the row's unique key makes a
 * second sweep, a second creditd or creditctl collect find it made. */
#include "ledger_config.h"
#include "ledger_payg.h"
#include "ledger_events.h"
#include "ledger_hooks.h"
#include "ledger_recharges.h"
#include "money_rule.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_LOCK[] = "SELECT state, amount_cents, period, try_no, IFNULL(payment_intent, ''), attempts "
			       "FROM recharges WHERE id = ? AND account_id = ? AND kind = 'payg' FOR UPDATE";

int64_t ledger_payg_period_before(int64_t now)
{
	int64_t key = timefmt_month_key(now);
	int64_t before = key % 100 == 1 ? (key / 100 - 1) * 100 + 12 : key - 1;
	assert(before % 100 >= 1);	/* a month, YYYYMM */
	assert(before % 100 <= 12);
	return before;
}

void ledger_payg_period_text(int64_t period, char *out, size_t size)
{
	snprintf(out, size, "%04" PRId64 "-%02" PRId64, period / 100, period % 100);
}

int64_t ledger_payg_period_parse(const char *text)
{
	if (text == NULL || strlen(text) != 7 || text[4] != '-')
		return -1;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (text[i] < '0' || text[i] > '9'))
			return -1;
	int64_t year = strtol(text, NULL, 10), month = strtol(text + 5, NULL, 10);
	int64_t period = month >= 1 && month <= 12 ? year * 100 + month : -1;
	assert(period == -1 || period % 100 >= 1);
	assert(period == -1 || period % 100 <= 12);
	return period;
}

/* Rounded up (docs/api.md, "Pay-as-you-go"): the card pays at least what is owed. */
int64_t ledger_payg_debt_cents(const struct store *db, int64_t balance)
{
	int64_t cents = money_rule_payg_cents(balance, ledger_config_of(db->cfg)->topup_rate, LIMIT_PAYG_MIN_CENTS);
	/* Nothing owed, nothing asked; never less than Stripe charges. */
	assert(balance < 0 || cents == 0);
	assert(cents == 0 || cents >= LIMIT_PAYG_MIN_CENTS);
	return cents;
}

/* The cents a is collected for period now; 0 when it is not: not
 * pay-as-you-go (no overdraft, no saved card), closed, owing nothing or
 * less than Stripe charges (the debt waits), collected for the period
 * already, or a collection of its still with Stripe. */
static enum cd_err due_cents(struct store *db, const struct acct *a, int64_t period, int64_t *cents)
{
	static const char sql[] = "SELECT COUNT(*) FROM recharges WHERE account_id = ? AND kind = 'payg' AND "
				  "(period = ? OR state IN ('queued', 'sent'))";
	int e;
	*cents = 0;
	if (a->overdraft <= 0 || !a->recharge_card || a->stripe_customer[0] == '\0' || strcmp(a->status, "closed") == 0)
		return CD_OK;
	int64_t c = ledger_payg_debt_cents(db, a->balance);
	if (c == 0)
		return CD_OK;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, period);
	if (s == NULL)
		return store_err(db, e, "collection lookup");
	if (store_fetch(s) == 1 && store_i64(s, 0) == 0)
		*cents = c;
	return CD_OK;
}

/* The collection's row, queued to be sent at send_at; its id in *id. */
/* decided: the time a caller that sends it now decided to (creditctl
 * collect, with no dispute open: recharges.decided_at), or NULL. */
static enum cd_err queue_row(struct store *db, const struct acct *a, int64_t period, int64_t cents, int64_t send_at,
			     const int64_t *decided, int64_t *id)
{
	static const char sql[] = "INSERT INTO recharges (account_id, kind, period, try_no, amount_cents, state, "
				  "next_attempt_at, decided_at, created_at, updated_at) "
				  "VALUES (?, 'payg', ?, 1, ?, 'queued', ?, ?, ?, ?)";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "iiiiIii", a->id, period, cents, send_at, decided, db->now, db->now);
	if (s == NULL)
		return store_err(db, e, "collection queue");
	*id = (int64_t)store_insert_id(s);
	log_info("account %s: collection %" PRId64 " of %" PRId64 " cents queued for %04" PRId64 "-%02" PRId64,
		 a->ext_id, *id, cents, period / 100, period % 100);
	return CD_OK;
}

/* Marks a as looked at for period (never back); 1 in *first when this
 * is the first look (another sweep's came first otherwise). */
static enum cd_err mark_seen(struct store *db, const struct acct *a, int64_t period, int *first)
{
	static const char sql[] = "UPDATE accounts SET payg_period = ? WHERE id = ? AND payg_period < ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "iii", period, a->id, period);
	if (s == NULL)
		return store_err(db, e, "collection mark");
	*first = store_affected(s) == 1;
	return CD_OK;
}

static enum cd_err visit_tx(struct store *db, int64_t id, int64_t period, int *queued)
{
	struct acct a;
	int64_t cents = 0, row;
	int first = 0;
	*queued = 0;
	enum cd_err rc = ledger_due_lock_id(db, id, &a);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	if (rc == CD_OK)
		rc = mark_seen(db, &a, period, &first);
	if (rc == CD_OK && first)
		rc = due_cents(db, &a, period, &cents);
	if (rc == CD_OK && cents > 0) {
		rc = queue_row(db, &a, period, cents, db->now, NULL, &row);
		*queued = rc == CD_OK;
	}
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	return rc;
}

static enum cd_err unseen_tx(struct store *db, int64_t period, int max, int64_t *ids, int *n)
{
	static const char sql[] = "SELECT id FROM accounts WHERE payg_period < ? ORDER BY payg_period, id LIMIT ?";
	int e;
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", period, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "collection scan");
	while (*n < max && store_fetch(s) == 1)
		ids[(*n)++] = store_i64(s, 0);
	return CD_OK;
}

enum cd_err ledger_payg_sweep(struct store *db, int max, int *queued, int *looked)
{
	int64_t ids[LIMIT_PAYG_SCAN];
	int n = 0;
	struct store_tx t;
	int64_t period = ledger_payg_period_before(db->now);
	*queued = 0;
	*looked = 0;
	if (max > LIMIT_PAYG_SCAN)
		max = LIMIT_PAYG_SCAN;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, unseen_tx(db, period, max, ids, &n));
	if (t.rc != CD_OK)
		return t.rc;
	*looked = n;
	/* One account that cannot be visited (its failure logged) does not
	 * stop the others: the first failure is returned. */
	enum cd_err first = CD_OK;
	for (int i = 0; i < n; i++) {
		int one = 0;
		for (store_tx_init(db, &t); store_tx_next(db, &t);)
			store_tx_end(db, &t, visit_tx(db, ids[i], period, &one));
		*queued += t.rc == CD_OK && one;
		if (first == CD_OK)
			first = t.rc;
	}
	assert(*queued <= *looked);
	assert(*looked <= max);
	return first;
}

/* ---- creditctl collect ---- */

static enum cd_err card_of(struct store *db, const struct acct *a, struct ledger_recharge *out)
{
	static const char sql[] = "SELECT IFNULL(stripe_payment_method, '') FROM accounts WHERE id = ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "i", a->id);
	if (s == NULL)
		return store_err(db, e, "collection card");
	if (store_fetch(s) == 1)
		ledger_rows_copy_text(out->payment_method, sizeof(out->payment_method), store_str(s, 0));
	return CD_OK;
}

/* The account (by id, or by ext when id is 0) collected now unless
 * dry_run; *got 1 with what the charge needs in out when it owes. */
static enum cd_err collect_tx(struct store *db, int64_t id, const char *ext, const struct ledger_collect *c,
			      struct ledger_recharge *out, int *got)
{
	struct acct a;
	int64_t cents = 0;
	int first, disputed = 0;
	*got = 0;
	memset(out, 0, sizeof(*out));
	enum cd_err rc = id > 0 ? ledger_due_lock_id(db, id, &a) : ledger_due_lock(db, ext, &a);
	if (rc == CD_OK)
		rc = due_cents(db, &a, c->period, &cents);
	if (rc == CD_OK && cents > 0)
		rc = ledger_disputes_open_on(db, &a, &disputed);
	if (rc == CD_OK && cents > 0 && !c->dry_run) {
		rc = mark_seen(db, &a, c->period, &first);
		/* Leased to the caller, who sends it now: the sender leaves it
		 * alone until the lease has passed. With a dispute open it is
		 * the sender's, which holds it until the dispute is won. */
		if (rc == CD_OK)
			rc = queue_row(db, &a, c->period, cents, disputed ? db->now : db->now + c->lease_seconds,
				       disputed ? NULL : &db->now, &out->id);
	}
	if (rc == CD_OK && cents > 0 && disputed)
		log_info("account %s: not collected now: a dispute is open on the account", a.ext_id);
	if (rc == CD_OK && cents > 0 && !disputed) {
		out->amount_cents = cents;
		out->period = c->period;
		out->try_no = 1;
		ledger_rows_copy_text(out->account, sizeof(out->account), a.ext_id);
		ledger_rows_copy_text(out->customer, sizeof(out->customer), a.stripe_customer);
		rc = card_of(db, &a, out);
		*got = rc == CD_OK;
	}
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	return rc;
}

/* The next page of accounts that may owe (pay-as-you-go, below 0),
 * after id c->after. */
static enum cd_err owing_tx(struct store *db, int64_t after, int64_t *ids, int *n)
{
	static const char sql[] = "SELECT id FROM accounts WHERE payg_period IS NOT NULL AND id > ? AND "
				  "balance_micros < 0 AND overdraft_limit_micros > 0 AND stripe_payment_method IS NOT NULL "
				  "ORDER BY id LIMIT ?";
	int e;
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", after, (int64_t)LIMIT_PAYG_SCAN);
	if (s == NULL)
		return store_err(db, e, "collection owing");
	while (*n < LIMIT_PAYG_SCAN && store_fetch(s) == 1)
		ids[(*n)++] = store_i64(s, 0);
	return CD_OK;
}

enum cd_err ledger_payg_collect(struct store *db, struct ledger_collect *c, struct ledger_recharge *out, int max,
				int *n)
{
	int64_t ids[LIMIT_PAYG_SCAN];
	int found = 0, got = 0;
	struct store_tx t;
	assert(max >= 1);
	*n = 0;
	if (c->period == 0)
		c->period = ledger_payg_period_before(timefmt_now());
	assert(c->period > 0);	/* a month, YYYYMM */
	if (c->account != NULL) {
		for (store_tx_init(db, &t); store_tx_next(db, &t);)
			store_tx_end(db, &t, collect_tx(db, 0, c->account, c, &out[0], &got));
		*n = t.rc == CD_OK && got;
		c->done = 1;
		return t.rc;
	}
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, owing_tx(db, c->after, ids, &found));
	c->done = t.rc == CD_OK && found < LIMIT_PAYG_SCAN;
	for (int i = 0; t.rc == CD_OK && i < found && *n < max; i++) {
		for (store_tx_init(db, &t); store_tx_next(db, &t);)
			store_tx_end(db, &t, collect_tx(db, ids[i], NULL, c, &out[*n], &got));
		*n += t.rc == CD_OK && got;
		c->after = ids[i];
	}
	assert(*n <= max);
	return t.rc;
}

/* ---- a collection's end (the sender's record, the webhook) ---- */

enum cd_err ledger_payg_before_send(struct store *db, struct ledger_recharge *r, int64_t balance, int *send)
{
	/* The try not sent is not counted (try_no is the last one made). */
	static const char sql_end[] = "UPDATE recharges SET state = 'failed', try_no = try_no - 1, "
				      "error = 'nothing owed any more', updated_at = ? WHERE id = ? AND state = 'queued'";
	/* A try never sent asks at most what is owed now (a dispute won, a
	 * grant meanwhile: the card never pays more than the debt); one sent
	 * keeps its amount, since its key must send the same body again. */
	static const char sql_lower[] = "UPDATE recharges SET amount_cents = ?, updated_at = ? WHERE id = ? "
					"AND state = 'queued' AND attempts = 0 AND decided_at IS NULL";
	int64_t owed = ledger_payg_debt_cents(db, balance);
	assert(r->id > 0);
	assert(r->period > 0);	/* a collection, not an auto-recharge */
	if (r->attempts < 0) {
		log_error("collection %" PRId64 ": attempts %" PRId64 " out of range", r->id, r->attempts);
		return CD_E_INTERNAL;	/* a row edited by hand: the rule asserts it */
	}
	/* decided_at NULL: never sent (a send whose answer was not recorded
	 * keeps its decision, and its key must carry the same amount). */
	enum payg_send d = money_rule_payg_send(owed, r->amount_cents, r->attempts, r->decided);
	*send = d != PAYG_END;
	assert(!*send || owed > 0);	/* sent only while something is owed */
	if (d == PAYG_LOWER) {
		log_info("account %s: collection %" PRId64 " lowered from %" PRId64 " to %" PRId64 " cents, what is owed now",
			 r->account, r->id, r->amount_cents, owed);
		r->amount_cents = owed;
		return store_do(db, sql_lower, "collection lowered", "iii", owed, db->now, r->id);
	}
	if (d == PAYG_SEND)
		return CD_OK;
	log_info("account %s: collection %" PRId64 " not sent: nothing owed any more", r->account, r->id);
	return store_do(db, sql_end, "collection end", "ii", db->now, r->id);
}

enum cd_err ledger_payg_find(struct store *db, const struct acct *a, int64_t period, int64_t *id)
{
	static const char sql[] = "SELECT id FROM recharges WHERE account_id = ? AND period = ? AND kind = 'payg'";
	int e;
	assert(period > 0);
	assert(a->id > 0);
	*id = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, period);
	if (s == NULL)
		return store_err(db, e, "collection find");
	if (store_fetch(s) == 1)
		*id = store_i64(s, 0);
	return CD_OK;
}

struct payg_row {
	char state[16];
	int64_t cents, period, try_no, attempts;
	char pi[LIMIT_STRIPE_ID_BYTES + 1];
};

/* The collection's row, locked; state "" when a has none such. */
static enum cd_err lock_row(struct store *db, const struct acct *a, int64_t id, struct payg_row *r)
{
	int e, got;
	memset(r, 0, sizeof(*r));
	struct dbstmt *s = store_exec(db, SQL_LOCK, &e, "ii", id, a->id);
	if (s == NULL)
		return store_err(db, e, "collection lock");
	if ((got = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	if (got == 1) {
		ledger_rows_copy_text(r->state, sizeof(r->state), store_str(s, 0));
		r->cents = store_i64(s, 1);
		r->period = store_i64(s, 2);
		r->try_no = store_i64(s, 3);
		ledger_rows_copy_text(r->pi, sizeof(r->pi), store_str(s, 4));
		r->attempts = store_i64(s, 5);
	}
	return CD_OK;
}

/* Which try of collection r pays pi, and what it asked (*cents; -1: none
 * of its tries, so not one creditd asked for): a try recorded with its
 * PaymentIntent (an earlier one included: a declined try the customer
 * authenticated later), else the try with Stripe now (its answer not
 * recorded yet, or recorded before tries were, migration 031). */
static void try_of(const struct payg_row *r, const struct payg_try *t, const char *pi, int64_t *try_no,
		   int64_t *cents)
{
	*try_no = t->found ? t->try_no : r->try_no;
	*cents = t->found ? t->cents : r->pi[0] == '\0' || strcmp(r->pi, pi) == 0 ? r->cents : -1;
}

/* Only what creditd asked for is credited
 * (docs/decisions.md, "Sessions made elsewhere"): one of the collection's
 * tries, for the amount that try asked. One that disagrees ends the
 * collection, uncredited, for the operator (logged): it is not sent again. */
static enum cd_err credit_refused(struct store *db, const struct acct *a, int64_t id, const char *pi, int64_t cents,
				  int64_t asked, int *credited)
{
	static const char sql_off[] = "UPDATE recharges SET state = 'failed', error = ?, updated_at = ? WHERE id = ?";
	char why[200];
	if (asked < 0)
		snprintf(why, sizeof(why), "%s is none of its tries: not credited", pi);
	else
		snprintf(why, sizeof(why), "%s paid %" PRId64 " cents where %" PRId64 " were asked: not credited", pi,
			 cents, asked);
	log_warn("account %s: collection %" PRId64 ": %s", a->ext_id, id, why);
	*credited = -1;
	return store_do(db, sql_off, "collection mismatch", "sii", why, db->now, id);
}

/* The collection credited by try try_no's payment pi: its row says what
 * was paid (and, for a try paid while a later one waited unsent, that
 * the later one was never made), the try is paid, and every other try
 * still open is to be cancelled at Stripe (docs/pay-as-you-go.md, "When the card is refused"). */
static enum cd_err credited_by(struct store *db, const struct acct *a, const struct payg_row *r, int64_t id,
			       const char *pi, int64_t try_no, int64_t cents, int64_t micros, int64_t grant_id)
{
	static const char sql[] = "UPDATE recharges SET state = 'succeeded', payment_intent = ?, credited_micros = ?, "
				  "paid_cents = ?, amount_cents = ?, grant_id = ?, try_no = ?, updated_at = ?, "
				  "error = NULL WHERE id = ?";
	int others;
	/* A try queued and not answered yet is not counted, as when nothing
	 * is owed any more (ledger_payg_before_send); one in flight now is recorded
	 * and cancelled when its answer comes (ledger_payg_try_made). */
	int64_t made = strcmp(r->state, "queued") == 0 && r->attempts == 0 && r->try_no > try_no ? r->try_no - 1
		       : r->try_no;
	enum cd_err rc = store_do(db, sql, "collection credit", "siiiiiii", pi, micros, cents, cents, grant_id, made,
			       db->now, id);
	if (rc == CD_OK)
		rc = ledger_payg_tries_put(db, id, try_no, cents, pi, "paid");
	if (rc == CD_OK)
		rc = ledger_payg_tries_cancel_others(db, a->ext_id, id, pi, &others);
	if (rc == CD_OK && try_no < r->try_no)
		log_info("account %s: collection %" PRId64 " paid by try %" PRId64 " (%s); try %" PRId64 " was the "
			 "last made", a->ext_id, id, try_no, pi, r->try_no);
	return rc;
}

enum cd_err ledger_payg_credit(struct store *db, struct acct *a, int64_t id, const char *pi, int64_t cents,
			int *credited)
{
	struct payg_row r;
	struct payg_try t;
	char gid[32], period[PAYG_PERIOD_BYTES];
	int64_t grant_id = 0, journal_id, try_no, asked;
	assert(id > 0);
	assert(pi != NULL);
	assert(a->locked_tx == db->tx_serial);
	*credited = 0;
	enum cd_err rc = lock_row(db, a, id, &r);
	if (rc == CD_OK && r.state[0] != '\0')
		rc = ledger_payg_tries_lock(db, id, pi, &t);
	if (rc != CD_OK || r.state[0] == '\0')
		return rc;
	if (strcmp(r.state, "succeeded") == 0) {
		if (strcmp(r.pi, pi) == 0)
			return CD_OK;
		log_warn("account %s: collection %" PRId64 " credited already (%s), and %s paid it again: "
			 "not credited, to be refunded", a->ext_id, id, r.pi, pi);
		return t.found ? ledger_payg_tries_put(db, id, t.try_no, t.cents, pi, "paid") : CD_OK;
	}
	try_of(&r, &t, pi, &try_no, &asked);
	if (cents <= 0)
		cents = asked;
	int64_t micros = ledger_topups_cents_to_micros(db, cents);
	if (asked < 0 || cents != asked || micros < 0 || micros > LIMIT_AMOUNT_MICROS_MAX)
		return credit_refused(db, a, id, pi, cents, asked, credited);
	const int64_t before = a->balance;
	rc = ledger_rows_add_grant(db, a, "payment", micros, GRANT_PRIORITY_DEFAULT, -1, pi, "pay-as-you-go collection",
			      &grant_id, &journal_id);
	assert(rc != CD_OK || a->balance == before + micros);	/* what the try asked, credited once */
	if (rc == CD_OK)
		rc = credited_by(db, a, &r, id, pi, try_no, cents, micros, grant_id);
	ledger_ids_format(gid, sizeof(gid), "grant_", grant_id);
	ledger_payg_period_text(r.period, period, sizeof(period));
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_PAYG_COLLECTED, json_pack("{s:s, s:I, s:I, s:s, s:s}", "period", period,
			       "amount_cents", (json_int_t)cents, "amount_micros", (json_int_t)micros, "payment_intent",
			       pi, "grant_id", gid));
	/* A dispute of this payment that came first waited for this credit. */
	struct funded f = {.kind = FUNDED_RECHARGE, .id = id, .account_id = a->id};
	if (rc == CD_OK)
		rc = ledger_disputes_apply_waiting(db, a, &f, pi);
	*credited = rc == CD_OK;
	return rc;
}

/* Whether a failure reported now ends the collection's current try: the
 * sender's (Stripe refused the try it claimed, still queued), or a
 * webhook's for the payment of the try that is with Stripe (a failure of
 * an earlier try, recorded already, changes nothing). */
static int fails_current_try(const struct payg_row *r, const char *pi)
{
	if (pi == NULL)
		return strcmp(r->state, "queued") == 0;
	return strcmp(r->state, "sent") == 0 && strcmp(r->pi, pi) == 0;
}

enum cd_err ledger_payg_fail(struct store *db, struct acct *a, int64_t id, const char *pi, const char *error,
		      int *failed)
{
	static const char sql_next[] = "UPDATE recharges SET state = 'queued', try_no = try_no + 1, attempts = 0, "
				       "payment_intent = NULL, decided_at = NULL, amount_cents = ?, error = ?, next_attempt_at = ?, "
				       "updated_at = ? WHERE id = ?";
	static const char sql_end[] = "UPDATE recharges SET state = 'failed', error = ?, updated_at = ? WHERE id = ?";
	struct payg_row r;
	char cut[LIMIT_RECHARGE_ERROR_BYTES + 1], period[PAYG_PERIOD_BYTES];
	assert(id > 0);
	assert(a->locked_tx == db->tx_serial);
	*failed = 0;
	enum cd_err rc = lock_row(db, a, id, &r);
	if (rc != CD_OK || !fails_current_try(&r, pi))
		return rc;
	ledger_recharges_error_cut(cut, error);
	/* The next try a day later, the last two days after that, each for
	 * what is owed then (a new try has a new Idempotency-Key); none, and
	 * no suspension, once nothing is owed (paid otherwise meanwhile). */
	int64_t owed = ledger_payg_debt_cents(db, a->balance);
	int64_t next = r.try_no >= PAYG_TRIES || owed == 0 ? -1
		       : db->now + (r.try_no == 1 ? 1 : 2) * TIMEFMT_SECONDS_PER_DAY;
	rc = next > 0 ? store_do(db, sql_next, "collection retry", "isiii", owed, cut, next, db->now, id)
		      : store_do(db, sql_end, "collection failure", "sii", cut, db->now, id);
	if (rc == CD_OK && owed > 0)
		rc = ledger_disputes_suspend_for(db, a, "payment_failed");
	ledger_payg_period_text(r.period, period, sizeof(period));
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_PAYG_FAILED, json_pack("{s:s, s:I, s:s, s:I, s:o}", "period", period,
			       "amount_cents", (json_int_t)r.cents, "error", cut, "tries", (json_int_t)r.try_no,
			       "next_try_at", ledger_rows_json_time(next)));
	log_warn("account %s: collection %" PRId64 " for %s, try %" PRId64 ", failed: %s", a->ext_id, id, period,
		 r.try_no, cut);
	*failed = rc == CD_OK;
	/* A failed try of a debt still owed leaves the account suspended (or closed). */
	assert(!*failed || owed == 0 || strcmp(a->status, "active") != 0);
	return rc;
}
