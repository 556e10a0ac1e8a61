/* ledger_holds.c: authorize, settle, release and direct usage.
 *
 * Each call is one transaction that locks the account row first. The
 * checks of DESIGN §5 run in a fixed order (404, 403, 429, 402) against
 * the locked row, so the hold that passes them is the one that is
 * written. Replays are answered from what was stored: a request_id maps to
 * one hold, a settled hold keeps its settle's hash and response. */
#include "ledger_open.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_HOLD_COMMIT[] = "CALL creditd_hold_commit(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_SETTLE_COMMIT[] = "CALL creditd_settle_commit(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
					"?, ?, ?, ?, ?, ?, ?)";
static const char SQL_HOLD_BY_REQUEST[] = "SELECT id, amount_micros, expires_at, state FROM holds "
					  "WHERE account_id = ? AND request_id = ?";
#define HOLD_COLS_OF(t) t "id, " t "state, " t "amount_micros, " t "byok, " t "model, " t "action, " t "member, " \
	t "conversation_id, " t "expires_at, " t "charged_micros, " t "settle_hash, " t "settle_response, " t "request_id"
#define HOLD_COLS HOLD_COLS_OF("")
static const char SQL_HOLD_LOCK[] = "SELECT " HOLD_COLS " FROM holds WHERE id = ? AND account_id = ? FOR UPDATE";
static const char SQL_ACCT_HOLD_LOCK[] = "SELECT STRAIGHT_JOIN " ACCT_COLS_OF("a.") ", " HOLD_COLS_OF("h.")
	" FROM accounts a JOIN holds h ON h.account_id = a.id WHERE a.id = ? AND h.id = ? FOR UPDATE";
static const char SQL_HOLD_RELEASED[] = "UPDATE holds SET state = 'released', finished_at = ? WHERE id = ?";
static const char SQL_USAGE_ADD[] = "INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, "
				    "input_tokens, cached_input_tokens, output_tokens, cost_micros, byok, request_id, "
				    "conversation_id, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static json_t *hold_json(const struct acct *a, int64_t hold_id, int64_t amount, int64_t expires_at)
{
	char id[LIMIT_HOLD_ID_BYTES], exp[TIMEFMT_LEN];
	hold_id_format(id, sizeof(id), a->id, hold_id);
	timefmt_rfc3339(expires_at, exp);
	return json_pack("{s:s, s:I, s:I, s:s}", "hold_id", id, "amount_micros", (json_int_t)amount,
			 "available_micros", (json_int_t)acct_available(a), "expires_at", exp);
}

/* The hold a request_id already has, if any: *out set, CD_OK; else NOT_FOUND. */
static enum cd_err existing_hold(struct ledger *lg, const struct acct *a, const char *request_id, json_t **out)
{
	int e;
	struct dbstmt *s = db_exec(lg, SQL_HOLD_BY_REQUEST, &e, "is", a->id, request_id);
	if (s == NULL)
		return db_err(lg, e, "hold lookup");
	if (db_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	*out = hold_json(a, db_i64(s, 0), db_i64(s, 1), db_i64(s, 2));
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

/* DESIGN §5's checks of a charge of `amount` against a locked account, in
 * its order: 403 not active, 429 monthly limit (month spend plus pending
 * holds plus this charge), 402 available. Fills what the refusal shows. */
static enum cd_err charge_check(struct ledger *lg, const struct acct *a, int64_t amount, int byok)
{
	int64_t available = acct_available(a);
	if (strcmp(a->status, "active") != 0)
		return refusal_set_amounts(&lg->refusal, REFUSE_ACCOUNT_INACTIVE, available, amount);
	if (byok)
		return CD_OK;
	if (a->monthly_limit >= 0 && a->month_spent + a->reserved + amount > a->monthly_limit) {
		int64_t left = a->monthly_limit - a->month_spent - a->reserved;
		return refusal_set_amounts(&lg->refusal, REFUSE_MONTHLY_LIMIT, left < available ? left : available,
					   amount);
	}
	if (amount > available)
		return refusal_set_amounts(&lg->refusal, REFUSE_INSUFFICIENT, available, amount);
	return CD_OK;
}

/* Writes the hold and the account in one round trip (commits too, unless
 * more writes follow). A request_id that already has a hold yields that
 * hold (*replayed = 1, amount and expiry overwritten) and writes nothing,
 * except the account's own due changes, which are kept. */
static enum cd_err hold_commit(struct ledger *lg, struct acct *a, const struct guard_authorize *r, int64_t *amount_io,
			       int64_t *expires_io, int last_write, int64_t *hold_id, int *replayed)
{
	int64_t amount = *amount_io, expires_at = *expires_io;
	int e, got;
	int64_t due = a->sweep_due_at < 0 || expires_at < a->sweep_due_at ? expires_at : a->sweep_due_at;
	int commit = last_write && db_may_commit(lg);
	struct db_params p;		/* creditd_hold_commit's parameters, in order */
	dbp_init(&p);
	dbp_i64(&p, a->id);			/* p_account */
	dbp_str(&p, r->request_id);		/* p_request_id */
	dbp_str(&p, r->member);			/* p_member */
	dbp_str(&p, r->model);			/* p_model */
	dbp_str(&p, r->action);			/* p_action */
	dbp_str(&p, r->conversation_id);	/* p_conversation */
	dbp_i64(&p, amount);			/* p_amount */
	dbp_i64(&p, r->byok);			/* p_byok */
	dbp_i64(&p, expires_at);		/* p_expires */
	dbp_i64(&p, lg->now);			/* p_now */
	dbp_i64(&p, a->balance);		/* p_balance */
	dbp_i64(&p, a->reserved + amount);	/* p_reserved */
	dbp_i64(&p, a->month_key);		/* p_month_key */
	dbp_i64(&p, a->month_spent);		/* p_month_spent */
	dbp_i64(&p, due);			/* p_sweep_due */
	dbp_i64(&p, commit);			/* p_commit */
	struct dbstmt *s = db_call(lg, SQL_HOLD_COMMIT, &p, &e, &got);
	if (s == NULL)
		return db_err(lg, e, "hold insert");
	if (!got)
		return CD_E_INTERNAL;
	*hold_id = db_i64(s, 0);
	*amount_io = db_i64(s, 1);
	*expires_io = db_i64(s, 2);
	*replayed = db_i64(s, 3) != 0;
	if (commit)
		db_committed(lg);
	if (*replayed) {
		/* Answered from the stored hold; without a commit here the
		 * account's due changes (sweep, month) still need storing. */
		if (!commit && a->dirty)
			return acct_store(lg, a);
		return CD_OK;
	}
	a->reserved += amount;
	a->sweep_due_at = due;
	return CD_OK;
}

/* Locks the member's row (when it has one) and checks its monthly cap. */
static enum cd_err member_check(struct ledger *lg, const struct acct *a, const char *member, int64_t amount,
				struct member_row *m)
{
	enum cd_err rc = member_lock(lg, a, member, m);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	if (rc != CD_OK || m->cap < 0 || m->month_spent + m->reserved + amount <= m->cap)
		return rc;
	return refusal_set_amounts(&lg->refusal, REFUSE_MEMBER_CAP, m->cap - m->month_spent - m->reserved, amount);
}

/* Every check of a charge, the member's cap included: a cap is a 429 and
 * so comes before a 402 (DESIGN's order). */
static enum cd_err guard_check(struct ledger *lg, const struct acct *a, const char *member, int64_t amount, int byok,
			       struct member_row *m)
{
	enum cd_err rc = charge_check(lg, a, amount, byok);
	if ((rc == CD_OK || rc == CD_E_INSUFFICIENT) && !byok && member != NULL) {
		enum cd_err mrc = member_check(lg, a, member, amount, m);
		if (mrc != CD_OK)
			rc = mrc;
	}
	return rc;
}

static enum cd_err authorize_op(struct ledger *lg, const struct guard_authorize *r, json_t **out, int *status)
{
	struct acct a;
	enum cd_err rc = acct_lock(lg, r->account, &a);
	if (rc != CD_OK)
		return rc;
	struct member_row m;
	memset(&m, 0, sizeof(m));
	rc = guard_check(lg, &a, r->member, r->amount_micros, r->byok, &m);
	if (rc != CD_OK) {
		/* A replayed request_id gets its hold even when a new one would be refused. */
		if (rc != CD_E_SUSPENDED && existing_hold(lg, &a, r->request_id, out) == CD_OK) {
			*status = 200;
			return a.dirty ? acct_store(lg, &a) : CD_OK;
		}
		return rc;
	}
	int64_t amount = r->byok ? 0 : r->amount_micros;
	int64_t expires_at = lg->now + r->ttl_seconds;
	int64_t hold_id = 0;
	int replayed = 0;
	rc = hold_commit(lg, &a, r, &amount, &expires_at, !m.found, &hold_id, &replayed);
	if (rc != CD_OK)
		return rc;
	*status = 200;
	if (replayed) {
		*out = hold_json(&a, hold_id, amount, expires_at);
		return *out != NULL ? CD_OK : CD_E_INTERNAL;
	}
	m.reserved += amount;
	rc = member_store(lg, &a, &m);
	if (rc != CD_OK)
		return rc;
	*out = hold_json(&a, hold_id, amount, expires_at);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_authorize(struct ledger *lg, const struct ledger_call *call, const struct guard_authorize *r,
			     struct ledger_result *res)
{
	struct ledger_writer w;
	for (ledger_writer_init(lg, &w, call); ledger_writer_next(lg, &w);)
		ledger_writer_step(lg, &w, authorize_op(lg, r, &w.out, &w.status));
	return ledger_writer_end(lg, &w, res);
}

/* ---- Settle ---- */

struct hold_row {
	int64_t id, amount, expires_at, charged;
	int byok;
	char state[16];
	char model[LEDGER_NAME_MAX + 1], action[LEDGER_NAME_MAX + 1];
	char member[LEDGER_ID_MAX + 1], conversation[LIMIT_REQUEST_ID_BYTES + 1];
	char request_id[LIMIT_REQUEST_ID_BYTES + 1];
	int has_member, has_conversation;
	unsigned char settle_hash[32];
	int has_hash;
	char response[LIMIT_SETTLE_RESPONSE_BYTES + 1];
};

static void text_col(const struct dbstmt *s, unsigned int col, char *dst, size_t cap, int *has)
{
	const char *v = db_str(s, col);
	snprintf(dst, cap, "%s", v != NULL ? v : "");
	if (has != NULL)
		*has = v != NULL;
}

/* Reads a hold from columns c.. of the current row (HOLD_COLS order). */
static void hold_from_row_at(const struct dbstmt *s, unsigned int c, struct hold_row *h)
{
	h->id = db_i64(s, c);
	text_col(s, c + 1, h->state, sizeof(h->state), NULL);
	h->amount = db_i64(s, c + 2);
	h->byok = db_i64(s, c + 3) != 0;
	text_col(s, c + 4, h->model, sizeof(h->model), NULL);
	text_col(s, c + 5, h->action, sizeof(h->action), NULL);
	text_col(s, c + 6, h->member, sizeof(h->member), &h->has_member);
	text_col(s, c + 7, h->conversation, sizeof(h->conversation), &h->has_conversation);
	h->expires_at = db_i64(s, c + 8);
	h->charged = db_i64(s, c + 9);
	h->has_hash = db_len(s, c + 10) == 32;
	if (h->has_hash)
		memcpy(h->settle_hash, db_str(s, c + 10), 32);
	text_col(s, c + 11, h->response, sizeof(h->response), NULL);
	text_col(s, c + 12, h->request_id, sizeof(h->request_id), NULL);
}

/* Locks the hold's account and then the hold, in one statement
 * (STRAIGHT_JOIN keeps authorize's order: account first). A sweep that ran
 * while locking may have changed the hold, which is then read again. */
static enum cd_err hold_lock(struct ledger *lg, const char *hold_id, struct acct *a, struct hold_row *h)
{
	int64_t account_id, id;
	int e;
	if (hold_id_parse(hold_id, &account_id, &id) != 0)
		return refusal_set(&lg->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	struct dbstmt *s = db_exec(lg, SQL_ACCT_HOLD_LOCK, &e, "ii", account_id, id);
	if (s == NULL)
		return db_err(lg, e, "hold lock");
	if (db_fetch(s) != 1)
		return refusal_set(&lg->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	acct_from_row_at(s, 0, a);
	hold_from_row_at(s, ACCT_NCOLS, h);
	int64_t due = a->sweep_due_at;
	enum cd_err rc = acct_touch(lg, a);
	if (rc != CD_OK || due < 0 || due > lg->now)
		return rc;
	s = db_exec(lg, SQL_HOLD_LOCK, &e, "ii", id, account_id);
	if (s == NULL)
		return db_err(lg, e, "hold lock");
	if (db_fetch(s) != 1)
		return refusal_set(&lg->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	hold_from_row_at(s, 0, h);
	return CD_OK;
}

/* Cost of a settle: byok 0, an action its price, a model its tokens. */
static enum cd_err settle_cost(const struct hold_row *h, const struct guard_settle *r, int64_t *cost)
{
	struct price p;
	int64_t margin;
	*cost = 0;
	if (h->byok)
		return CD_OK;
	if (h->action[0] != '\0')
		return ledger_price_action(h->action, cost) ? CD_OK : CD_E_INVALID;
	if (r->price != NULL) {
		p = *r->price;
		margin = r->margin_bps;
	} else if (!ledger_price_model(r->model != NULL ? r->model : h->model, &p, &margin)) {
		return CD_E_INVALID;
	}
	enum pricing_status ps = pricing_token_cost(&p, margin, r->input_tokens, r->cached_input_tokens,
						    r->output_tokens, cost);
	return ps == PRICING_OK ? CD_OK : CD_E_INVALID;
}

static enum cd_err usage_insert(struct ledger *lg, const struct acct *a, int64_t hold_id, const char *usage_key,
				const char *member, const char *model, const char *action, int64_t in,
				int64_t cached, int64_t outt, int64_t cost, int byok, const char *request_id,
				const char *conversation, const unsigned char *hash, int64_t *usage_id)
{
	int e;
	const int64_t *hid = hold_id > 0 ? &hold_id : NULL;
	struct dbstmt *s = db_exec(lg, SQL_USAGE_ADD, &e, "iIssssiiiiissbi", a->id, hid, usage_key, member,
				   model, action, in, cached, outt, cost, (int64_t)byok, request_id, conversation,
				   (const char *)hash, hash != NULL ? (size_t)32 : (size_t)0, lg->now);
	if (s == NULL)
		return e == ER_DUP_ENTRY ? CD_E_CONFLICT : db_err(lg, e, "usage insert");
	*usage_id = (int64_t)db_insert_id(s);
	return CD_OK;
}

/* Moves the reserve and month spend of a settle of `cost` for a hold in
 * state pending, expired or captured, and says what is still to spend
 * (*spend, burnt by the settle procedure). A late settle below a captured
 * hold gives the difference back here, as a refund grant. */
static enum cd_err settle_charge(struct ledger *lg, struct acct *a, const struct hold_row *h, int64_t cost,
				 int64_t *released, int64_t *spend)
{
	char ref[LIMIT_HOLD_ID_BYTES];
	*released = 0;
	*spend = 0;
	/* A settled hold is answered from its stored settle, never charged again. */
	assert(strcmp(h->state, "settled") != 0);
	assert(strcmp(h->state, "released") != 0);
	if (strcmp(h->state, "pending") == 0) {
		assert(h->amount <= a->reserved);
		a->reserved -= h->amount;
		*released = h->amount > cost ? h->amount - cost : 0;
	}
	int64_t already = strcmp(h->state, "captured") == 0 ? h->charged : 0;
	int64_t delta = cost - already;
	a->month_spent += delta;
	enum cd_err rc = member_adjust(lg, a, h->has_member ? h->member : NULL,
				       strcmp(h->state, "pending") == 0 ? -h->amount : 0, delta);
	if (rc != CD_OK || delta >= 0) {
		*spend = delta > 0 ? delta : 0;
		return rc;
	}
	int64_t grant_id, journal_id;
	hold_id_format(ref, sizeof(ref), a->id, h->id);
	return ledger_add_grant(lg, a, "refund", -delta, 0, -1, ref, "late settle below captured hold",
				&grant_id, &journal_id);
}

/* Burns `spend`, records the usage, marks the hold settled with its answer
 * and stores the account, in one round trip (and commits, unless more
 * writes follow). a->balance is already the balance after. */
static enum cd_err settle_commit(struct ledger *lg, const struct acct *a, const struct hold_row *h,
				 const struct guard_settle *r, int64_t spend, int64_t cost, const char *response)
{
	char ref[LIMIT_HOLD_ID_BYTES];
	int e, got;
	hold_id_format(ref, sizeof(ref), a->id, h->id);
	const char *model = r->model != NULL ? r->model : h->model[0] ? h->model : NULL;
	const char *conv = r->conversation_id != NULL ? r->conversation_id : h->has_conversation ? h->conversation : NULL;
	const int64_t *due = a->sweep_due_at >= 0 ? &a->sweep_due_at : NULL;
	int commit = db_may_commit(lg);
	struct db_params p;		/* creditd_settle_commit's parameters, in order */
	dbp_init(&p);
	dbp_i64(&p, a->id);				/* p_account */
	dbp_i64(&p, h->id);				/* p_hold */
	dbp_i64(&p, spend);				/* p_spend */
	dbp_str(&p, ref);				/* p_reference */
	dbp_i64(&p, lg->now);				/* p_now */
	dbp_str(&p, h->has_member ? h->member : NULL);	/* p_member */
	dbp_str(&p, model);				/* p_model */
	dbp_str(&p, h->action[0] ? h->action : NULL);	/* p_action */
	dbp_i64(&p, r->input_tokens);			/* p_input */
	dbp_i64(&p, r->cached_input_tokens);		/* p_cached */
	dbp_i64(&p, r->output_tokens);			/* p_output */
	dbp_i64(&p, cost);				/* p_cost */
	dbp_i64(&p, h->byok);				/* p_byok */
	dbp_str(&p, h->request_id);			/* p_request_id */
	dbp_str(&p, conv);				/* p_conversation */
	dbp_blob(&p, r->request_hash, 32);		/* p_settle_hash */
	dbp_str(&p, response);				/* p_response */
	dbp_i64(&p, a->balance);			/* p_balance */
	dbp_i64(&p, a->reserved);			/* p_reserved */
	dbp_i64(&p, a->month_key);			/* p_month_key */
	dbp_i64(&p, a->month_spent);			/* p_month_spent */
	dbp_i64_or_null(&p, due);			/* p_sweep_due */
	dbp_str(&p, lg->journal_key);			/* p_idem_key */
	dbp_i64(&p, commit);				/* p_commit */
	struct dbstmt *s = db_call(lg, SQL_SETTLE_COMMIT, &p, &e, &got);
	if (s == NULL)
		return db_err(lg, e, "settle");
	if (commit)
		db_committed(lg);
	return CD_OK;
}

static enum cd_err settle_decide(struct ledger *lg, const struct guard_settle *r, json_t **out, int *status);

/* A settle's journal rows record the request's key, else "settle:<hold>":
 * a hold is settled once. */
static enum cd_err settle_op(struct ledger *lg, const struct guard_settle *r, json_t **out, int *status)
{
	char key[JOURNAL_KEY_BYTES];
	const char *outer = journal_key_push(lg, key, "settle", r->hold_id, 0);
	enum cd_err rc = settle_decide(lg, r, out, status);
	lg->journal_key = outer;
	return rc;
}

static enum cd_err settle_decide(struct ledger *lg, const struct guard_settle *r, json_t **out, int *status)
{
	struct acct a;
	struct hold_row h;
	json_error_t jerr;
	int64_t cost, released, spend;
	enum cd_err rc = hold_lock(lg, r->hold_id, &a, &h);
	if (rc != CD_OK)
		return rc;
	if (strcmp(h.state, "settled") == 0) {
		if (!h.has_hash || memcmp(h.settle_hash, r->request_hash, 32) != 0)
			return refusal_set(&lg->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
		*out = json_loads(h.response, 0, &jerr);
		*status = 200;
		if (*out == NULL)
			return CD_E_INTERNAL;
		/* Locking may have expired other holds: that must be stored too. */
		return a.dirty ? acct_store(lg, &a) : CD_OK;
	}
	if (strcmp(h.state, "released") == 0)
		return refusal_set(&lg->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
	if (settle_cost(&h, r, &cost) != CD_OK)
		return refusal_set(&lg->refusal, REFUSE_HOLD_UNPRICED, r->hold_id, NULL);
	rc = settle_charge(lg, &a, &h, cost, &released, &spend);
	if (rc != CD_OK)
		return rc;
	a.balance -= spend;
	char id[LIMIT_HOLD_ID_BYTES];
	hold_id_format(id, sizeof(id), a.id, h.id);
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "hold_id", id, "account", a.ext_id,
			 "charged_micros", (json_int_t)cost,
			 "released_micros", (json_int_t)released, "balance_micros", (json_int_t)a.balance,
			 "available_micros", (json_int_t)acct_available(&a), "late", strcmp(h.state, "pending") != 0);
	char *text = *out != NULL ? json_dumps(*out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text == NULL)
		return CD_E_INTERNAL;
	if (strlen(text) > LIMIT_SETTLE_RESPONSE_BYTES) {
		log_error("a settle answer of %zu bytes does not fit holds.settle_response", strlen(text));
		free(text);
		return CD_E_INTERNAL;
	}
	rc = settle_commit(lg, &a, &h, r, spend, cost, text);
	free(text);
	*status = 200;
	return rc;
}

enum cd_err ledger_settle(struct ledger *lg, const struct ledger_call *call, const struct guard_settle *r,
			  struct ledger_result *res)
{
	struct ledger_writer w;
	for (ledger_writer_init(lg, &w, call); ledger_writer_next(lg, &w);)
		ledger_writer_step(lg, &w, settle_op(lg, r, &w.out, &w.status));
	return ledger_writer_end(lg, &w, res);
}

static enum cd_err release_op(struct ledger *lg, const struct guard_release *rel, json_t **out, int *status)
{
	const char *hold_id = rel->hold_id;
	struct acct a;
	struct hold_row h;
	enum cd_err rc = hold_lock(lg, hold_id, &a, &h);
	if (rc != CD_OK)
		return rc;
	if (strcmp(h.state, "settled") == 0 || strcmp(h.state, "captured") == 0)
		return refusal_set(&lg->refusal, REFUSE_HOLD_RELEASE_CONFLICT, hold_id, NULL);
	int64_t released = 0;
	if (strcmp(h.state, "pending") == 0) {
		released = h.amount;
		assert(h.amount <= a.reserved);
		a.reserved -= h.amount;
		snprintf(h.state, sizeof(h.state), "released");
		rc = member_adjust(lg, &a, h.has_member ? h.member : NULL, -h.amount, 0);
		if (rc == CD_OK)
			rc = db_do(lg, SQL_HOLD_RELEASED, "hold release", "ii", lg->now, h.id);
		if (rc == CD_OK)
			rc = acct_store(lg, &a);
	} else if (a.dirty) {
		rc = acct_store(lg, &a);
	}
	if (rc != CD_OK)
		return rc;
	char id[LIMIT_HOLD_ID_BYTES];
	hold_id_format(id, sizeof(id), a.id, h.id);
	*out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "hold_id", id, "account", a.ext_id, "state", h.state,
			 "released_micros",
			 (json_int_t)released, "balance_micros", (json_int_t)a.balance, "available_micros",
			 (json_int_t)acct_available(&a));
	*status = 200;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_release(struct ledger *lg, const struct ledger_call *call, const struct guard_release *r,
			   struct ledger_result *res)
{
	struct ledger_writer w;
	for (ledger_writer_init(lg, &w, call); ledger_writer_next(lg, &w);)
		ledger_writer_step(lg, &w, release_op(lg, r, &w.out, &w.status));
	return ledger_writer_end(lg, &w, res);
}

/* ---- Direct usage ---- */

static enum cd_err usage_replay(struct ledger *lg, const struct acct *a, const struct guard_usage *r, json_t **out)
{
	static const char sql[] = "SELECT id, cost_micros, request_hash FROM usage_records "
				  "WHERE account_id = ? AND usage_key = ?";
	int e;
	struct dbstmt *s = db_exec(lg, sql, &e, "is", a->id, r->request_id);
	if (s == NULL)
		return db_err(lg, e, "usage lookup");
	if (db_fetch(s) != 1)
		return CD_E_RETRY;
	if (db_len(s, 2) != 32 || memcmp(db_str(s, 2), r->request_hash, 32) != 0)
		return CD_E_CONFLICT;
	char id[32];
	ledger_id_format(id, sizeof(id), "usage_", db_i64(s, 0));
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "usage_id", id, "account", a->ext_id, "charged_micros",
			 (json_int_t)db_i64(s, 1), "balance_micros", (json_int_t)a->balance, "available_micros",
			 (json_int_t)acct_available(a), "replayed", 1);
	return CD_OK;
}

/* What a direct usage costs: byok 0, an action its price, a model its tokens. */
/* Usage reported after the fact is checked like authorize (404, 403, 429,
 * 402) in this locked transaction, and a refusal charges nothing; with
 * force it is charged whatever the checks say, and its journal row says
 * so (source "forced"). A request_id already recorded answers its first
 * result, even when a new charge would now be refused. */
static enum cd_err usage_decide(struct ledger *lg, const struct guard_usage *r, json_t **out, int *status);

/* A usage's journal row records the request's key, else
 * "usage:<request_id>": a request_id is recorded once. */
static enum cd_err usage_op(struct ledger *lg, const struct guard_usage *r, json_t **out, int *status)
{
	char key[JOURNAL_KEY_BYTES];
	const char *outer = journal_key_push(lg, key, "usage", r->request_id, 0);
	enum cd_err rc = usage_decide(lg, r, out, status);
	lg->journal_key = outer;
	return rc;
}

static enum cd_err usage_decide(struct ledger *lg, const struct guard_usage *r, json_t **out, int *status)
{
	struct acct a;
	struct member_row m;
	int64_t cost = 0, usage_id = 0;
	enum cd_err rc = acct_lock(lg, r->account, &a);
	if (rc != CD_OK)
		return rc;
	cost = r->byok ? 0 : r->cost_micros;
	memset(&m, 0, sizeof(m));
	if (!r->force) {
		rc = guard_check(lg, &a, r->member, cost, r->byok, &m);
		if (rc != CD_OK) {
			if (rc == CD_E_SUSPENDED || r->request_id == NULL || usage_replay(lg, &a, r, out) != CD_OK)
				return rc;
			*status = 200;
			return a.dirty ? acct_store(lg, &a) : CD_OK;
		}
	}
	rc = usage_insert(lg, &a, 0, r->request_id, r->member, r->model, r->action, r->input_tokens,
			  r->cached_input_tokens, r->output_tokens, cost, r->byok, r->request_id,
			  r->conversation_id, r->request_hash, &usage_id);
	if (rc == CD_E_CONFLICT && r->request_id != NULL) {
		*status = 200;
		rc = usage_replay(lg, &a, r, out);
		if (rc == CD_E_CONFLICT)
			return refusal_set(&lg->refusal, REFUSE_USAGE_CONFLICT, r->request_id, NULL);
		/* Locking may have expired holds: the replay stores that too. */
		return rc == CD_OK && a.dirty ? acct_store(lg, &a) : rc;
	}
	if (rc == CD_OK && cost > 0) {
		rc = ledger_spend_as(lg, &a, cost, "usage", r->force ? "forced" : NULL, 0, r->request_id, NULL, NULL);
		a.month_spent += cost;
	}
	/* The member's month spend: its row is locked already when checked. */
	if (rc == CD_OK && cost > 0 && m.found) {
		m.month_spent += cost;
		rc = member_store(lg, &a, &m);
	} else if (rc == CD_OK && cost > 0 && r->member != NULL && r->force) {
		rc = member_adjust(lg, &a, r->member, 0, cost);
	}
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	char id[32];
	ledger_id_format(id, sizeof(id), "usage_", usage_id);
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "usage_id", id, "account", a.ext_id, "charged_micros",
			 (json_int_t)cost, "balance_micros", (json_int_t)a.balance, "available_micros",
			 (json_int_t)acct_available(&a), "forced", r->force, "replayed", 0);
	*status = 200;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_usage(struct ledger *lg, const struct ledger_call *call, const struct guard_usage *r,
			 struct ledger_result *res)
{
	struct ledger_writer w;
	for (ledger_writer_init(lg, &w, call); ledger_writer_next(lg, &w);)
		ledger_writer_step(lg, &w, usage_op(lg, r, &w.out, &w.status));
	return ledger_writer_end(lg, &w, res);
}

/* ---- Usage report ---- */

static const char SQL_USAGE_BY_MODEL[] = "SELECT COALESCE(model, action, ''), COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_DAY[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL ", COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_MEMBER[] = "SELECT member, COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";

struct report_run { const struct usage_query *q; json_t *out; };

static json_t *report_row(const struct dbstmt *s, const char *group_by, int64_t sums[5])
{
	char key[TIMEFMT_LEN];
	if (strcmp(group_by, "day") == 0) {
		timefmt_rfc3339(db_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY, key);
		key[10] = '\0';
	} else {
		snprintf(key, sizeof(key), "%s", "");
	}
	for (unsigned int i = 0; i < 5; i++)
		sums[i] += db_i64(s, i + 1);
	json_t *row = json_pack("{s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)db_i64(s, 1),
				"input_tokens", (json_int_t)db_i64(s, 2), "cached_input_tokens", (json_int_t)db_i64(s, 3),
				"output_tokens", (json_int_t)db_i64(s, 4), "cost_micros", (json_int_t)db_i64(s, 5));
	/* Usage with no member is its own group, named null as in the request. */
	json_t *name = key[0] ? json_string(key) : db_null(s, 0) ? json_null() : json_string(db_str(s, 0));
	json_object_set_new(row, group_by, name);
	return row;
}

static enum cd_err report_tx(struct ledger *lg, void *arg)
{
	struct report_run *r = arg;
	const struct usage_query *q = r->q;
	struct acct a;
	int e;
	json_decref(r->out);
	r->out = NULL;
	enum cd_err rc = acct_read(lg, q->account, &a);
	if (rc != CD_OK)
		return rc;
	const char *sql = strcmp(q->group_by, "day") == 0 ? SQL_USAGE_BY_DAY
			  : strcmp(q->group_by, "member") == 0 ? SQL_USAGE_BY_MEMBER : SQL_USAGE_BY_MODEL;
	struct dbstmt *s = db_exec(lg, sql, &e, "iii", a.id, q->from, q->to);
	if (s == NULL)
		return db_err(lg, e, "usage report");
	json_t *data = json_array();
	int64_t sums[5] = {0, 0, 0, 0, 0};
	while (db_fetch(s) == 1)
		json_array_append_new(data, report_row(s, q->group_by, sums));
	char from[TIMEFMT_LEN], to[TIMEFMT_LEN];
	timefmt_rfc3339(q->from, from);
	timefmt_rfc3339(q->to, to);
	r->out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "account", a.ext_id,
			   "currency", lg->cfg->currency, "from", from, "to", to, "group_by", q->group_by, "data", data,
			   "total", "requests", (json_int_t)sums[0], "input_tokens", (json_int_t)sums[1],
			   "cached_input_tokens", (json_int_t)sums[2], "output_tokens", (json_int_t)sums[3],
			   "cost_micros", (json_int_t)sums[4]);
	return r->out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_usage_report(struct ledger *lg, const struct usage_query *q, json_t **out)
{
	struct report_run r = {q, NULL};
	enum cd_err rc = ledger_run(lg, report_tx, &r);
	*out = r.out;
	return rc;
}
