/* ledger_batch.h: the rows one group-commit batch works on.
 *
 * A batch of guard operations (ledger_holds.c decides them) is two CALLs
 * (sql/020_batch_calls.sql; redefined whole by sql/034, which added the
 * hold's cache-write pin and the usage row's cache writes and settle
 * reason, each last in its row), or the second alone when its rows were
 * kept from the last write (ledger_rowcache.h). cd_batch_read locks every
 * row the batch needs in one order (the accounts by id, then the holds by
 * id, then the member rows) and returns them with the replay rows (and,
 * for accounts with threshold alerts, their alert rows: sql/059,
 * ledger_alerts_batch.h); operations change these rows in memory, in
 * arrival order;
 * cd_guard_write (sql/037) checks the versions of rows kept, runs
 * cd_batch_write, which writes them all back with the answers stored under
 * Idempotency-Keys, returns the accounts' versions, and commits. The
 * journal rows keep the order of the operations that made them, and
 * move the balances by exactly their amounts (asserted at each flush). Both
 * CALLs take one JSON parameter, written by jsonw.h: no SQL text is made
 * from request data. The read writes nothing: it opens each account in
 * memory (its month and day rolled, written with the row at the flush);
 * an account with more due (an expiry, a plan's credit: rows besides its
 * own to write) ends the attempt unapplied, and the guard brings it due
 * in a transaction of its own before the batch runs again
 * (ledger_holds.c), so a batch decides only on accounts with nothing
 * due. Above the account-open step and below the guard's rules.
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_BATCH_H
#define CREDITD_LEDGER_BATCH_H
#include "ledger_alerts.h"
#include "ledger_clock.h"
#include "ledger_due.h"
#include "store_sets.h"
#include "ledger_idcache.h"

#define BATCH_MAX LIMIT_BATCH_OPS

/* A hold as the batch holds it. */
struct hold_row {
	int64_t id, account_id, amount, expires_at, charged;
	int64_t max_output;		/* output tokens granted; -1: none (an action) */
	/* The prices and margin it was priced with (has_pin): its settle
	 * charges at these (docs/api.md, "Prices pinned at authorize"). */
	int has_pin;
	struct price pin;
	int64_t pin_margin;
	/* The rate-limit minute it was counted in (-1: none) and its tokens:
	 * its settle in that minute corrects them to the actual count. */
	int64_t rate_minute, rate_tokens;
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

struct batch_acct {
	struct acct a;
	int changed;			/* written back at the next flush */
	int spends;			/* its grants were read */
	int grants_read;		/* positive ones, at most a page (LIMIT_SPEND_GRANTS, or _WIDE) */
	int grants_more;		/* it has more positive grants than were read */
	int grants_stale;		/* a refund of this batch made it a grant, not written yet */
	int recharge;			/* queue an auto-recharge at the next flush */
	int version_read;		/* a.row_version is the one the last write left */
	int refused;			/* an authorize of this attempt was refused on it */
	int64_t start_version;		/* a.row_version as read or kept when the attempt began */
	/* Invariant 1 inside a batch: the balance moves only with journal
	 * rows. Its balance as of the read or the last flush (or a journal row
	 * written outside the batch's rows), and the sum of the amounts of the
	 * journal rows appended since: ledger_batch_write_flush asserts they agree. */
	int64_t balance_marked, journal_micros;
};
/* A grant of an account that spends, read in spending order. */
struct batch_grant {
	int acct;
	struct spend_grant g;
	int is_new;			/* a row to insert at the next flush: a debt row, or a refund's grant */
};
/* A settle's refund grant made by this batch (ledger_batch_refund): its
 * b->grants row (is_new, not a debt), what it credited and its reference
 * (the hold's id); the k-th of a write is grants_new's k-th, named by its
 * journal row's grant_id -1 - k. */
struct batch_refund {
	int grant;
	int64_t amount;
	char reference[LIMIT_HOLD_ID_BYTES];
};
#define BATCH_GRANTS (BATCH_MAX * (LIMIT_SPEND_GRANTS + 2))
/* The most grant rows a batch holds: a batch of one's wide page
 * (LIMIT_SPEND_GRANTS_WIDE, b->grants_wide), its debt row, a new one,
 * and one to spare. */
#define BATCH_GRANTS_MAX (LIMIT_SPEND_GRANTS_WIDE + 3)
_Static_assert(BATCH_GRANTS <= BATCH_GRANTS_MAX, "a batch's grants start at most at their bound");
struct batch_hold {
	struct hold_row h;
	int acct;			/* index in accts */
	int is_new;			/* inserted at the next flush (h.id 0 until then) */
	int changed;			/* state written back at the next flush */
};
struct ledger_batch_member {
	int acct;
	struct member_row m;
	int changed;
};
/* A usage_records row of POST /v1/usage: found by its request_id, or
 * made by this batch (its id read back at the flush). */
struct batch_usage {
	int acct;
	int64_t id, cost;
	char key[LIMIT_REQUEST_ID_BYTES + 1];
	int has_key;
	unsigned char hash[32];
	int has_hash;
	int is_new;
};
/* An answer stored under an Idempotency-Key before this batch. */
struct ledger_batch_key {
	const char *key;		/* the operation's */
	unsigned char hash[32];
	int status;
	char *response;			/* malloc'd */
	size_t response_len;
};

/* What the read CALL is asked for, filled by the caller. Rows of an
 * account named by external id refer to it by its index in acct_ext. */
struct batch_want {
	int64_t acct_ids[BATCH_MAX];		/* the accounts of hold_ids, in step */
	int nacct_ids;
	const char *acct_ext[BATCH_MAX];	/* by external id */
	int nacct_ext;
	int64_t hold_ids[BATCH_MAX];		/* settle and release targets */
	int nhold_ids;
	struct { int ext; const char *request_id; } hold_reqs[BATCH_MAX];	/* authorize replays */
	int nhold_reqs;
	int read_hold_reqs;			/* read them (else a duplicate fails the insert) */
	struct { int ext; const char *member; } members[BATCH_MAX];
	int nmembers;
	struct { int ext; const char *key; } usages[BATCH_MAX];
	int nusages;
	int spend_ext[BATCH_MAX];		/* accounts (acct_ext indexes) that may spend */
	int nspend_ext;
	const char *keys[BATCH_MAX];		/* Idempotency-Keys */
	int nkeys;
};

/* What a batch holds of its accounts' threshold alerts (b->alerts;
 * ledger_alerts_batch.h loads, decides and writes them). */
#define BATCH_ALERT_ROWS (BATCH_MAX * LIMIT_ALERTS)
/* Named members: the request's and the holds' (ledger_batch.h), each
 * with at most one state an alert. */
#define BATCH_ALERT_STATES (2 * BATCH_MAX * LIMIT_ALERTS)
/* A state an alert and one a member an alert, for every account and member. */
#define BATCH_ALERT_CHANGES (LIMIT_ALERTS * (BATCH_MAX + 2 * BATCH_MAX))

struct batch_alert_row {
	int acct;
	struct alert_row r;
};
struct batch_alert_state {
	int alert;			/* index in alerts */
	char member[LEDGER_ID_MAX + 1];
	int64_t key;
};
struct batch_alert_grant {
	int acct;
	int64_t id, amount, remaining;
};
/* A state to write: alert's own (member -1), or its state for member (a
 * b->members index); data: the event to tell (owned), NULL: none. */
struct batch_alert_pending {
	int acct, alert, member;
	enum money_alert_step step;
	int64_t key;
	json_t *data;
};
struct batch_alerts {
	int read[BATCH_MAX];		/* the read loaded the account's alert rows */
	int64_t plan_cap[BATCH_MAX];	/* -1: none */
	struct batch_alert_row alerts[BATCH_ALERT_ROWS];
	int nalerts;
	struct batch_alert_state states[BATCH_ALERT_STATES];
	int nstates;
	struct batch_alert_grant grants[LIMIT_ALERT_PLAN_GRANTS];
	int ngrants;
	struct batch_alert_pending pending[BATCH_ALERT_CHANGES];
	int npending;
	/* One account's decision's scratch (money_alert_changes). */
	int64_t keys[2 * BATCH_MAX * LIMIT_ALERTS];
	struct money_alert_change changes[LIMIT_ALERTS * (1 + 2 * BATCH_MAX)];
};

/* An outbox row to write at the next flush (ledger_events.h). */
struct batch_event {
	int acct;
	const char *type;
	json_t *data;			/* owned */
};
struct batch {
	/* The attempt's clock, copied from the store's once at its start
	 * (ledger_holds.c, after store_tx_next fixed it): the time every
	 * decision and notice of the batch reads (ledger_clock.h). */
	struct ledger_clock clock;
	/* The attempt's connection is a Galera node's (store_galera), copied
	 * with the clock: its read locks and marks, its write's COMMIT, and
	 * whether its rows are kept (ledger_rowcache_on) follow it. */
	int galera;
	/* The attempt's database node (store's node) and when its connection
	 * last ended a transaction well (its ok_ms), copied with the clock:
	 * the row cache's table is the node's, and it fills a batch only
	 * from a connection that was fresh (ledger_rowcache.c). */
	int node;
	int64_t conn_ok_ms;
	/* What the batch's notices read beyond its rows, copied with the
	 * clock: the configured balance.low default ([ledger]
	 * low_balance_default_micros) and the auto-recharges an account may
	 * queue a UTC day ([stripe] auto_recharge_max_per_day), and a new
	 * hold's ttl when its request named none ([ledger] hold_ttl_seconds). */
	struct batch_config {
		int64_t low_balance_default, recharges_per_day, hold_ttl;
	} config;
	/* The transaction the attempt reads and locks its rows in (the
	 * store's tx_serial, copied with the clock): a decision writes money
	 * only from rows locked in it (ledger_rows_acct_check_locked_in). */
	uint64_t tx_serial;
	/* The idempotency key the journal rows of the operation being decided
	 * record (docs/decisions.md, "Journal keys"; NULL: none): set by the
	 * batch's run for each operation (ledger_holds.c's decide), the
	 * key the store's journal_key has for that operation's other rows. */
	const char *journal_key;
	/* Who acted (struct store's actor) for that operation's rows: the
	 * key of the request that queued it; NULL: creditd itself. */
	const char *actor;
	struct batch_acct accts[BATCH_MAX];
	int naccts;
	struct batch_hold holds[2 * BATCH_MAX];	/* read ones, then new ones */
	int nholds;
	struct ledger_batch_member members[2 * BATCH_MAX];
	int nmembers;
	struct batch_usage usages[2 * BATCH_MAX];
	int nusages;
	struct ledger_batch_key keys[BATCH_MAX];
	int nkeys;
	/* Grant rows, room for grants_cap (BATCH_GRANTS, grown up to
	 * BATCH_GRANTS_MAX for a wide page: ledger_batch_grant_room), and a
	 * burn's scratch of as many (ledger_batch.c). */
	struct batch_grant *grants;
	struct spend_grant *burn;
	int *burn_at;
	int ngrants, grants_cap;
	struct batch_refund refunds[BATCH_MAX];	/* pending for the next flush */
	int nrefunds;
	/* Pending appends, in the order made, as JSON rows of the write CALL
	 * (sql/020_batch_calls.sql): journal rows, a settle's usage rows, and
	 * POST /v1/usage's rows (whose ids come back: new_usage[k] is the
	 * b->usages index of the k-th). */
	struct dynbuf journal_rows;
	int njournal;
	struct dynbuf settle_usage;
	int nsettle_usage;
	struct dynbuf usage_rows;
	int new_usage[2 * BATCH_MAX];
	int nnew_usage;
	struct batch_event events[2 * BATCH_MAX];	/* outbox rows: a refusal's and a crossing's per account */
	int nevents;
	/* The threshold alerts of its accounts that have some: loaded by the
	 * read, decided, written by the write (ledger_alerts_batch.h); NULL
	 * until a batch of this one meets an account with alerts. */
	struct batch_alerts *alerts;
	int failed;			/* a pending row was lost: the batch must not commit */
	struct dynbuf doc;		/* the JSON parameter of the CALL being made */
	struct db_sets sets;		/* what the last CALL returned */
	/* A new hold met a request_id already held, or a refused authorize
	 * must know whether its request_id is: the next attempts read
	 * authorizes' request_ids first. */
	int hold_reqs_needed;
	int hold_reqs_read;		/* this attempt read them */
	/* A charge of a batch of one went past the page of its account's
	 * grants: the next attempts read LIMIT_SPEND_GRANTS_WIDE of them. */
	int grants_wide;
	/* A decision of this attempt asked for what its load did not bring
	 * (hold_reqs_needed, grants_wide): the attempt ends, run again as
	 * RETRY_LOAD (ledger_holds.c). */
	int load_more;
	/* A member due a row had none after a read of this run (its plan's
	 * cap moved between the read's two looks at the plan): read again
	 * once (RETRY_MOVED), then the batch fails (ledger_load.c). */
	int member_missed;
	/* The accounts this attempt's read found with something due
	 * (ledger_load_batch's CD_E_DUE): the transaction loop reads them as
	 * the attempt ends (store_tx's due_list, set by batch_run). */
	int64_t due[BATCH_MAX];
	int ndue;
	/* Rows kept in memory (ledger_rowcache.h): this attempt decides on
	 * them (kept), and its first write names their versions (kept_check);
	 * kept_off: a kept write found a row moved, the batch's next attempts
	 * read their rows. */
	int kept, kept_check, kept_off;
	/* The operation (its index in the batch) whose own decision or
	 * answer failed the last attempt with an error of its own, or the
	 * account (b->accts) whose rows disagree in the database
	 * (ledger_batch_rows_disagree); -1: none named. Only an operation so
	 * named is run apart (ledger_holds.c). */
	int failed_op, failed_acct;
	/* A guard answer as a renderer takes it (ledger_decide_done_put): a
	 * scratch of the combining thread's, never cleared whole. */
	struct ledger_done answer;
};

/* An answer to store under its Idempotency-Key with the batch's write.
 * hold and usage: the b->holds or b->usages index of the row the answer
 * names (-1: none): one written by this flush gets its id in the stored
 * text (the answer was made before the id was known). */
struct batch_answer {
	const char *key;
	const unsigned char *hash;
	int status;
	const char *text;
	int hold, usage;
};

/* The notice of a refusal of the account's (op's member row m, or NULL),
 * to be written with the batch, at the batch's clock: marks what it
 * changes. */
void ledger_batch_notice_refusal(struct batch *b, int acct, int member, enum refusal_why why, int64_t available,
				 int64_t required);
/* balance.low for every account the batch changed that crossed below
 * its threshold (ledger_events_notice_balance), and an auto-recharge for
 * those that call for one (money_rule_recharge, on the batch's day), from
 * the batch's rows, clock and config alone: no statement, no handle. */
void ledger_batch_notice_balances(struct batch *b);

/* A batch for a combiner to run (from a pool, or new; NULL when memory
 * runs out), and back to the pool when the combiner is done (emptied;
 * freed when the pool is full). */
struct batch *ledger_batch_take(void);
void ledger_batch_give(struct batch *b);
void ledger_batch_free(struct batch *b);
/* Empties b for a new attempt (hold_reqs_needed and grants_wide stay). */
void ledger_batch_reset(struct batch *b);
/* Takes every account's balance as it is now as the start of the check
 * that balances move only with the batch's journal rows: after the read,
 * and after each flush. */
void ledger_batch_balances_mark(struct batch *b);
/* Rows of account acct that contradict each other (what), met by a
 * decision: CD_E_RETRY when the attempt decided on rows kept in memory
 * (b->kept_off: the next attempt reads them under their locks), else
 * CD_E_INTERNAL, logged (the database's rows disagree; the batch fails,
 * the process serves on). */
enum cd_err ledger_batch_rows_disagree(struct batch *b, int acct, const char *what);
/* Drops the batch's outbox events (written, or the attempt abandoned). */
void ledger_batch_events_clear(struct batch *b);
/* The read CALL: the rows of w locked, the rows of members w names with
 * none made where ledger_members_row_due says so (by the CALL: sql/086),
 * and each account opened in memory (its month and day rolled; nothing
 * else written). CD_E_DUE when accounts read have
 * something due that writes other rows (ledger_due_writes): nothing is
 * applied, they are listed in b->due for the transaction loop to read
 * as the attempt ends (store_tx's due_list), the attempt ends (rolled
 * back) and the loop brings them due
 * (ledger_due_bring_tx) before the next attempt reads again. Never
 * CD_E_DUE on rows kept (ledger_rowcache.h keeps none due). */
enum cd_err ledger_load_batch(struct store *db, struct batch *b, struct batch_want *w);
/* Accounts a batch's read found due and named for bringing due, since
 * the process started (/metrics). */
unsigned long long ledger_load_due_found(void);
/* The account of a settle's or release's hold, its external id into
 * route (cap bytes; "" when the hold id names none: the batch answers
 * that), for the operation's node. A hold's id carries its account's id;
 * its external id is remembered from the batches, else read once, in a
 * transaction of its own, on the node of no account. Only with several
 * nodes. */
void ledger_load_hold_route(struct store *db, const char *hold_id, char *route, size_t cap);

int ledger_batch_acct_by_ext(const struct batch *b, const char *ext);
int ledger_batch_acct_by_id(const struct batch *b, int64_t id);
int ledger_batch_hold_by_id(const struct batch *b, int64_t id);
int ledger_batch_hold_by_request(const struct batch *b, int acct, const char *request_id);
int ledger_batch_member(const struct batch *b, int acct, const char *member);
int ledger_batch_usage_by_key(const struct batch *b, int acct, const char *key);
const struct ledger_batch_key *ledger_batch_key(const struct batch *b, const char *key);

/* A new hold (h filled but for id); its index. */
int ledger_batch_hold_add(struct batch *b, int acct, const struct hold_row *h);
/* A usage_records row as the batch records it (the write CALL's row). */
struct usage_fields {
	int64_t hold_id;		/* a settle's hold; 0: none */
	const char *member, *model, *action;	/* NULL: none */
	int64_t input, cached, cache_write, output;	/* cached + cache_write <= input */
	int64_t cost;
	int byok;
	const char *request_id, *conversation;	/* NULL: none */
	const char *settle_reason;	/* one of docs/api.md's, checked by the caller; NULL: none */
	int64_t base_cost;		/* cost before the margin (sql/078); -1: not known (NULL) */
};
/* A new usage_records row of POST /v1/usage (its usage_key key: the
 * request_id, or creditd's own without one; hash the request's); its
 * index (id after the flush). */
int ledger_batch_usage_add(struct batch *b, int acct, const struct usage_fields *u, const char *key,
			   const unsigned char *hash);
/* The key of a usage sent without request_id (ledger_decide.h,
 * usage_key): LEDGER_OWN_USAGE_PREFIX and 32 random hex digits, unique,
 * not secret. 0, or -1 (no randomness). */
int ledger_batch_own_usage_key(char *out, size_t cap);
/* A usage_records row of a settle (no id needed). */
void ledger_batch_settle_usage(struct batch *b, int acct, const struct usage_fields *u);
/* Spends amount (> 0) from account acct's grants read, in spending order
 * (money_rule_spend_burn), lowers the balance now and appends its journal row
 * (in this order among the batch's, recording b->journal_key); in memory only. What those grants
 * cannot cover goes onto the debt row when the account has no more
 * grants than were read; when it has (or a refund of the batch made it a
 * grant not written yet, grants_stale), it is left in *more: the decision
 * cannot be made on the rows loaded (ledger_holds.c, more_grants). The account must be one of want's
 * settle or spend_ext accounts (ledger_batch_spend_check: its grants
 * read, the balance in range, else CD_E_INTERNAL, logged). */
int ledger_batch_spend_check(const struct batch *b, int acct, int64_t amount);
enum cd_err ledger_batch_spend(struct batch *b, int acct, int64_t amount, const char *cause,
			       const char *source, int64_t hold_id, const char *reference, int64_t *more);
/* A late settle below its captured hold (ledger_decide_settle's
 * op->refund) gives amount (> 0) back as a grant of source "refund",
 * reference the hold's id: the debt row among those read repaid first
 * (money_rule_grant), the balance raised now with the grant's journal
 * row appended in the batch's order (recording b->journal_key), the
 * grant written with the batch's write (grants_new). In memory only.
 * The account's grants are stale from here (a later spend of the batch
 * runs apart, ledger_holds.c). CD_E_INTERNAL, logged, when the balance
 * would pass the money range, the account's grants were not read or it
 * owes with no debt row among them. */
enum cd_err ledger_batch_refund(struct batch *b, int acct, int64_t amount, const char *reference);
/* left (> 0) onto the account's debt row among those read, or a new one. */
enum cd_err ledger_batch_debt(struct batch *b, int acct, int64_t left);
/* Room for one more grant row (grants_cap grown up to BATCH_GRANTS_MAX):
 * 0, or -1 when full or out of memory. */
int ledger_batch_grant_room(struct batch *b);
/* A decision's need of rows the load did not bring (b->hold_reqs_needed
 * or b->grants_wide set by the caller): b->load_more, and CD_E_RETRY,
 * which the attempt names RETRY_LOAD. */
enum cd_err ledger_batch_load_more(struct batch *b);
/* Writes every pending change in one CALL, commits (db->committed) and
 * stores answers[0..n-1] under their keys. Read-back ids land in the
 * holds and usages. */
enum cd_err ledger_batch_write_flush(struct store *db, struct batch *b, const struct batch_answer *answers, int n);

/* The rows of the last CALL's set `name` (each into the struct db_row r):
 * the read's sets and the alerts' sets are walked alike. */
#define BATCH_EACH_ROW(b, name, r)                                                                 \
	for (const struct dbsets_set *set_ = store_sets_find(&(b)->sets, name); set_ != NULL; set_ = NULL) \
		for (size_t i_ = 0; i_ < set_->nrows && ((r) = store_sets_row(&(b)->sets, set_, i_), 1); i_++)
#endif
