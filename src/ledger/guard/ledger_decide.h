/* ledger_decide.h: the guard's rules, decided in memory over a batch's
 * rows (docs/api.md's "Checks in order": 404, 403, 429, 402).
 *
 * A batch (ledger_batch.h) holds every row its operations need, read and
 * locked; each operation is decided here, in arrival order, by changing
 * those rows: reserves, balances, spends, members' rows, rate windows,
 * new holds and usages, journal rows appended in order. A refusal
 * changes nothing. The batch's run (ledger_holds.c) calls down into this
 * module and makes the answers; nothing here queues, retries, commits or
 * words an answer but the settle's, which is stored with its hold.
 *
 * It is pure: rows, values, a clock and the journal key in (the batch
 * carries the last two: b->clock, b->journal_key), rows and a decision
 * out, with no store, unit-tested without a database (tests/unit/ledger/test_decide.c,
 * tests/unit/ledger/test_guard_model.c). What a decision needs that the batch
 * does not hold it asks its caller for, having changed nothing, or, for
 * a charge's grants, having changed only what it could decide: a hold
 * looked up (op->lookup: the caller's next attempt loads it), a refund
 * grant made (op->refund), grants past those read (op->spend_more: the
 * caller's attempt ends, ledger_holds.c more_grants). test_layering holds
 * the file's calls to that. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_DECIDE_H
#define CREDITD_LEDGER_DECIDE_H
#include "ledger_batch.h"
#include "ledger_combine.h"

enum guard_kind { GUARD_AUTHORIZE, GUARD_SETTLE, GUARD_RELEASE, GUARD_USAGE };

/* One queued guard operation: its request, then what one attempt of its
 * batch decided, then its answer. */
struct guard_op {
	struct combine_op link;		/* first: the queue's */
	enum guard_kind kind;
	const struct ledger_call *call;	/* NULL: no Idempotency-Key */
	/* Who acted (the queuing request's store's actor, NULL: creditd
	 * itself): its journal rows name it whichever thread runs the batch. */
	const char *actor;
	/* The caller's renderer (struct ledger_call): a settle's answer is
	 * kept with its hold for a replay, rendered when it is decided. */
	enum cd_err (*render)(const struct ledger_done *d, int *status, json_t **body);
	union {
		const struct guard_authorize *authorize;
		const struct guard_settle *settle;
		const struct guard_release *release;
		const struct guard_usage *usage;
	} in;
	struct ledger_result *res;
	enum cd_err rc;			/* CD_OK: res holds the answer */
	/* The attempt's decision. */
	int ext;			/* the account's index in batch_want.acct_ext, or -1 */
	int64_t account_id, hold_id;	/* a settle's or release's hold, parsed (0: unparsable) */
	enum cd_err decided;		/* CD_OK, or the refusal's code */
	struct refusal refusal;
	int acct, hold, usage;		/* rows in the batch, or -1 */
	const struct ledger_batch_key *stored;	/* answered from an earlier request's key */
	int same_key_as;		/* answered like this earlier operation of the batch, or -1 */
	int store;			/* its answer is stored under its key */
	int64_t amount, expires_at, balance, available, charged, released;
	int64_t max_output;		/* an authorize's granted output tokens, -1: none */
	int replayed;
	/* An authorize refused before its request_id's hold was looked for
	 * (ledger_decide_authorize): the caller's next attempt reads it. */
	int lookup;
	/* A late settle below its captured hold (ledger_decide_settle) comes
	 * back with refund > 0 and nothing changed: its refund grant is made
	 * in the batch's rows, refunded set to it and the settle decided
	 * again (ledger_decide_op). */
	int64_t refund, refunded;
	/* A usage sent without request_id: the key its record is kept under
	 * and its journal row names (LEDGER_OWN_USAGE_PREFIX and 32 hex
	 * digits, made by ledger_usage), so that the row shows its usage
	 * (docs/api.md, "A row of cause `usage`"); "" otherwise. */
	char usage_key[LEDGER_OWN_USAGE_KEY_BYTES];
	/* A settle's cost before the margin, at the very price its charge was
	 * decided at (money_guard_settle_base; -1: not known). */
	int64_t settle_base;
	/* A charge the batch's grants did not cover, with more grants in the
	 * database (or a grant of the batch's refund not written yet): no
	 * decision on these rows (ledger_holds.c, more_grants). */
	int64_t spend_more;
	char state[16];
	/* A settle's answer, made once when it is decided: kept with its
	 * hold for a replay, and answered. */
	struct ledger_settle_done settled;
	/* The answer: typed (done), and as JSON (out) when it is stored under
	 * its key or was stored before (a replay), or is a refusal. */
	struct ledger_guard_done done;
	json_t *out;
	int status;
	int answer_replayed;
	/* The account it routes by (several database nodes): the request's,
	 * or a settle's or release's hold's; "" when unknown. */
	char route[LIMIT_ACCOUNT_ID_BYTES + 1];
};

/* A guard answer put into *d (its kind and that member only: *d is
 * large, and is not cleared). */
void ledger_decide_done_put(struct ledger_done *d, const struct ledger_guard_done *g);

/* ---- The operations ----
 * Each decides op (op->acct, op->hold, op->usage set to -1 by the caller,
 * op->refusal cleared) on b's rows: CD_OK with the rows changed and op's
 * figures set, or a refusal's code with op->refusal filled and nothing
 * changed, or CD_E_RETRY/CD_E_UNAVAILABLE/CD_E_INTERNAL, which fail the
 * whole attempt. The time is the batch's clock (b->clock, copied from
 * the store's at the attempt's start: ledger_clock.h); the journal key
 * the rows record is the batch's (b->journal_key, set by the caller for
 * each operation). */

/* Pure, at b->clock.now. A replayed request_id gets its hold even when a new one
 * would be refused: a refused authorize whose request_id the batch did
 * not read (b->hold_reqs_read 0) comes back with op->lookup 1 and nothing
 * changed; the caller's next attempt reads the request_ids and decides
 * again. */
enum cd_err ledger_decide_authorize(struct batch *b, struct guard_op *op);
/* At b->clock.now. A late settle below its captured hold asks for its refund
 * grant (op->refund), then, once written (op->refunded), is decided;
 * a charge may leave op->spend_more. */
enum cd_err ledger_decide_settle(struct batch *b, struct guard_op *op);
enum cd_err ledger_decide_release(struct batch *b, struct guard_op *op);
/* At b->clock.now; a charge may leave op->spend_more, as a settle's. */
enum cd_err ledger_decide_usage(struct batch *b, struct guard_op *op);

/* One operation of any kind decided (the four above; a settle's refund
 * grant made in the batch's rows and the settle decided again), its
 * journal rows at b->journal_key: what it asks beyond that (op->lookup,
 * op->spend_more) is its caller's. */
enum cd_err ledger_decide_op(struct batch *b, struct guard_op *op);

/* What operation i of a batch of n, decided as rc, needs beyond the rows
 * loaded, as its attempt's end: rc when nothing. A refused authorize
 * whose request_id may be held already (op->lookup: a replay answers its
 * hold): the next attempt reads the authorizes' request_ids
 * (hold_reqs_needed; CD_E_RETRY, named load). A charge past its grants
 * read (op->spend_more): in a batch of several the operation runs apart
 * (b->failed_op i, CD_E_INTERNAL, nothing logged: the batch before it
 * commits first, so a refund grant of the same batch is read with its
 * id); alone, the next attempt reads LIMIT_SPEND_GRANTS_WIDE of its
 * account's grants (grants_wide, load); alone and wide, CD_E_INTERNAL,
 * logged (docs/decisions.md, "A charge past the grants one transaction
 * reads"). */
enum cd_err ledger_decide_needs(struct batch *b, const struct guard_op *op, enum cd_err rc, int i, int n);

/* ---- Parts the combiner and the tests use ----
 * The money itself is decided by money_guard.h (pure): these apply its
 * decisions to the batch's rows. */

/* The account's window (b->accts[acct]) and the member's (when it has a
 * row), at b->clock.now: both must pass (money_guard_rate_check) before
 * either counts. */
enum cd_err ledger_decide_rates_take(struct batch *b, int acct, const char *member, int64_t tokens,
				     struct refusal *why);
/* Moves a member's reserve and month spend, when it has a row. */
void ledger_decide_member_move(struct batch *b, int acct, const char *member, int64_t reserved_delta, int64_t spent_delta);
/* Notes the account's balance and available on op for its answer. */
void ledger_decide_note(struct guard_op *op, const struct acct *a);
/* The operation of ops (the batch's, n of them) its last attempt's
 * failure belongs to: the one whose error it was (b->failed_op), else
 * the first on the account whose rows disagree (b->failed_acct); -1:
 * none (ledger_holds.c runs only that one apart). */
int ledger_decide_failed_op(const struct batch *b, struct guard_op *const *ops, int n);
#endif
