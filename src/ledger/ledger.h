/* ledger.h: the credit ledger's operations, as the layers above call them.
 *
 * Each takes the thread's store handle (store.h: one connection per
 * database node; create one per thread, never share it). Every call that
 * changes money runs in one InnoDB transaction with the account row
 * locked, retried whole on transient conflicts: it loads its rows locked,
 * decides in pure C (src/money, ledger_decide.c for the guard's batch)
 * and writes through the one writer (store_write.h), keeping the ledger's
 * invariants (docs/decisions.md "Invariants"). Reads that answer the API
 * return jansson objects the caller owns (json_decref) or fill the
 * caller's structs, and an enum cd_err; "not found" is an answer. Writes
 * answer in a struct ledger_result (see "Writes"). */
#ifndef CREDITD_LEDGER_H
#define CREDITD_LEDGER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "errors.h"
#include "limits.h"
#include "pricing.h"
#include "refusal.h"
#include "ledger_done.h"

struct key_grant;

/* LEDGER_ID_MAX, LEDGER_NAME_MAX, LEDGER_TEXT_BYTES: ledger_done.h. */

struct cfg;
#include "store.h"


/* An id creditd makes for a row, as the API shows it: prefix and id
 * ("txn_42" of "txn_" and 42), into out (cap bytes). */
void ledger_ids_format(char *out, size_t cap, const char *prefix, int64_t id);
/* Parses an id creditd made ("txn_42" with prefix "txn_"). 0 or -1. */
int ledger_ids_parse(const char *s, const char *prefix, int64_t *id);
/* The internal id of the account a hold id names (hold ids carry it): 0,
 * or -1 when s is not shaped like a hold id. Checks nothing else. */
int ledger_hold_account(struct store *db, const char *hold_id, int64_t *account_id);

/* ---- API keys (ledger_keys.c) ---- */
/* What the key with this SHA-256 may do, into *grant: CD_OK; an unknown or
 * revoked key: CD_E_UNAUTHORIZED, with *grant zeroed; else a failure. */
enum cd_err ledger_key_auth(struct store *db, const unsigned char hash[32], struct key_grant *grant);
/* A new key, as creditctl makes it; borrowed for the call. */
struct ledger_key_new {
	const unsigned char *hash;	/* 32 bytes: the key's SHA-256 */
	const char *prefix;		/* the key's first characters */
	const char *name;
	int scopes;			/* enum key_scope bits */
	const char *account;		/* external id of the account it is bound to; NULL: none */
	const char *models;		/* the models it may call, comma-separated (keys.h); NULL or "": any */
};
/* Stores a key; its id into *id. CD_E_NOT_FOUND when n->account names no
 * account (nothing stored). */
enum cd_err ledger_key_create(struct store *db, const struct ledger_key_new *n, int64_t *id);
/* One API key, as ledger_key_list copies it out (api_keys: prefix
 * VARCHAR(16), name VARCHAR(128)). */
struct ledger_key_row {
	int64_t id;
	char prefix[LEDGER_TEXT_BYTES(16)];	/* the key's first characters */
	char name[LEDGER_TEXT_BYTES(128)];
	int scopes;			/* enum key_scope bits */
	int64_t created_at;		/* unix seconds */
	int64_t revoked_at;		/* unix seconds; -1: not revoked */
	char account[LEDGER_ID_MAX + 1];	/* the account it is bound to; "": none */
	char models[LIMIT_KEY_MODELS_BYTES + 1];	/* the models it may call, comma-separated; "": any */
};
/* A page of keys: those with an id above after_id, oldest first, at most
 * cap (creditctl asks for LIMIT_LIST_PAGE), copied into the caller's
 * rows[0..*n); a page of fewer than cap is the last. One transaction per
 * page; the ledger never prints, creditctl does. */
enum cd_err ledger_key_list(struct store *db, int64_t after_id, struct ledger_key_row *rows, int cap, int *n);
enum cd_err ledger_key_revoke(struct store *db, int64_t id);

/* ---- Threshold alerts (ledger_alerts_put.c; docs/api.md, "Threshold alerts") ----
 * Replaces the account's alerts with specs[0..n) (n <= LIMIT_ALERTS,
 * checked by the caller; ledger_done.h's struct ledger_alert_spec), under
 * its row's lock, and reads them back into *out. One equal to one the
 * account had (kind, threshold, member) keeps its state; a new one is set
 * fired for the period when its figure is past already (that crossing
 * tells nothing), else armed. CD_E_NOT_FOUND: no such account. */
enum cd_err ledger_alerts_set(struct store *db, const char *account, const struct ledger_alert_spec *specs, int n,
			      struct ledger_alerts_view *out);
/* The account's alerts as they stand into *out (CD_E_NOT_FOUND: none). */
enum cd_err ledger_alerts_get(struct store *db, const char *account, struct ledger_alerts_view *out);

/* ---- The gateway's keys, responses, holds and usage: ledger_gateway.h ---- */

/* ---- What a write decided: ledger_done.h ---- */

/* ---- Writes ----
 * Every write takes the request's Idempotency-Key (with the hash of what
 * it protects) and answers in a struct ledger_result. The return value is
 * CD_OK when there is an answer: a success, a replay of a stored answer,
 * or a refusal (res->refusal.why set, res->body its error object, worded
 * by refusal.c). Anything else is a failure with no answer (the database
 * is unavailable: CD_E_UNAVAILABLE; a bug: CD_E_INTERNAL). A refusal that
 * is an answer about the ledger's state (402, 403, 404, 409, 429) is
 * stored under the key in the transaction that decided it; a 400 is not,
 * so the client may fix the request and send it again under the key.
 *
 * A success of a write is res->done (res->body NULL): its caller renders
 * it. Its answer stored under an Idempotency-Key is written in the
 * transaction that decided it, so the ledger asks the caller's
 * call->render for that text then, and for a settle's answer, which its
 * hold keeps for a replay (a settle's call always has a render). The
 * ledger knows no renderer: the caller hands it one, as qsort is handed
 * its comparator. A replay and a refusal are res->body and res->status. */
struct ledger_call {
	const char *idem_key;			/* NULL: no idempotency */
	const unsigned char *request_hash;	/* 32 bytes: method, path and body */
	/* The answer of d, as the caller shows it: *status and *body (the
	 * caller of render owns it); CD_OK, or CD_E_INTERNAL with *body NULL.
	 * Set whenever idem_key is, and for a settle (asserted). */
	enum cd_err (*render)(const struct ledger_done *d, int *status, json_t **body);
};
struct ledger_result {
	int status;			/* HTTP status of body */
	json_t *body;			/* a replay or a refusal; the caller owns it
					 * (json_decref); NULL: the answer is done */
	int replayed;			/* stored under the key by an earlier request */
	struct refusal refusal;		/* why == REFUSE_NONE unless refused */
	struct ledger_done done;	/* a write's success; kind NONE otherwise */
};

/* ---- Accounts ---- */
struct account_new {
	const char *id;
	const char *kind;		/* user|workspace */
	int64_t overdraft_limit_micros;
	int64_t monthly_limit_micros;	/* -1: none */
	int64_t low_balance_micros;	/* -1: none */
	const char *plan;		/* NULL: none */
	int64_t daily_limit_micros;	/* -1: none */
	int64_t requests_per_minute;	/* -1: none */
	int64_t tokens_per_minute;	/* -1: none */
	const char *referral_code;	/* NULL: none; else another account's code, which refers this one */
	const char *email;		/* NULL: none (alerts by email; checked by the caller: mailaddr_ok) */
};
/* 201 on creation (with the signup bonus), 200 for the same settings
 * again (compared by a hash of them with defaults filled in, made here
 * for every caller), REFUSE_ACCOUNT_EXISTS for the same id with others. */
enum cd_err ledger_account_create(struct store *db, const struct ledger_call *call, const struct account_new *n,
				  struct ledger_result *res);
/* The account's referral code (made the first time it is asked for, then
 * the same for ever) into code, of cap > LIMIT_REFERRAL_CODE_CHARS bytes.
 * CD_E_NOT_FOUND: no such account. */
enum cd_err ledger_referral_code(struct store *db, const char *account, char *code, size_t cap);
/* The account as it stands, brought due, into *out (CD_E_NOT_FOUND:
 * none). */
enum cd_err ledger_account_get(struct store *db, const char *id, struct ledger_account_view *out);

struct account_patch {
	const char *id;
	const char *status;		/* NULL: unchanged */
	int set_overdraft, set_monthly, set_low, set_plan, set_daily;
	int64_t overdraft_limit_micros;
	int64_t monthly_limit_micros;	/* -1: remove */
	int64_t low_balance_micros;	/* -1: remove */
	const char *plan;		/* NULL with set_plan: remove */
	int64_t daily_limit_micros;	/* -1: remove */
	int set_rpm, set_tpm;
	int64_t requests_per_minute;	/* -1: remove */
	int64_t tokens_per_minute;	/* -1: remove */
	int set_recharge;
	int64_t recharge_threshold_micros;	/* -1: auto-recharge off */
	int64_t recharge_amount_cents;
	int set_email;
	const char *email;		/* NULL with set_email: remove */
};
enum cd_err ledger_account_patch(struct store *db, const struct ledger_call *call, const struct account_patch *p,
				 struct ledger_result *res);

/* The outbox, oldest first (docs/api.md, "Events"): the events with an id above
 * `after`, at most limit, as {"data": [...], "next_after"}. */
enum cd_err ledger_events(struct store *db, int64_t after, int limit, json_t **out);
/* Counts the outbox's undelivered events (state pending, at most
 * LIMIT_OUTBOX_COUNT_ROWS) and publishes the figure for
 * ledger_outbox_pending; the background thread calls it once a sweep, so
 * /metrics never reads the table itself. */
enum cd_err ledger_outbox_count(struct store *db);
/* The figure last published (process-wide, any thread, no round trip);
 * -1 before the first count. */
long long ledger_outbox_pending(void);
/* The push of the outbox (notify.c). An event claimed for delivery: the
 * oldest undelivered event of its account (order per account), due now;
 * it is leased for lease_seconds so that another process does not send it
 * at the same time. body: its JSON as GET /v1/events shows it (malloc'd). */
struct ledger_push {
	int64_t id;
	int64_t attempts;
	char *body;
};
enum cd_err ledger_events_claim(struct store *db, struct ledger_push *out, int max, int64_t lease_seconds,
				int *n);
/* What the push found: delivered (ok), else a failed attempt with its
 * error, retried after an exponential backoff until retry_seconds after
 * the event was made, then left undelivered (state failed). */
enum cd_err ledger_event_pushed(struct store *db, int64_t id, int ok, const char *error, int64_t retry_seconds);
/* An event as creditctl lists it (events: account VARBINARY(128), type
 * VARCHAR(32), last_error VARCHAR(255)). */
struct ledger_event_row {
	int64_t id, created_at, attempts, next_attempt_at, delivered_at;	/* -1: none */
	char account[LEDGER_ID_MAX + 1];		/* "-": none */
	char type[LEDGER_TEXT_BYTES(32)];
	char state[16];					/* pending|delivered|failed */
	char last_error[LEDGER_TEXT_BYTES(255)];	/* "": none */
	/* Its mail (event_mails, sql/050): state "" when it is not mailed,
	 * else pending|sent|failed|dropped, with the same figures. */
	char mail_state[16];
	int64_t mail_attempts, mail_next_at, mail_delivered_at;	/* -1: none */
	char mail_error[LEDGER_TEXT_BYTES(255)];	/* "": none */
};
/* Events with an id above after, oldest first, at most cap, copied into
 * the caller's rows[0..*n); state (pending|delivered|failed) or NULL for
 * all. Event ids increase in commit order, so a caller paging on with the
 * last id it got skips none. */
enum cd_err ledger_events_list(struct store *db, const char *state, int64_t after, struct ledger_event_row *rows,
			       int cap, int *n);
/* Alerts by email (docs/operations.md, "Alerts by email"; mail.c sends them). The mailer reads the
 * outbox past its cursor (mail_cursor, one row, locked while it moves)
 * and makes a mail row (event_mails) for each event of a type in `types`
 * ("a,b,c") whose account has an email and that is younger than
 * retry_seconds, at most LIMIT_MAIL_SCAN_EVENTS events a call; *scanned:
 * how many events it looked at (the cursor moved past them), *added: the
 * mails made. */
enum cd_err ledger_mails_enqueue(struct store *db, const char *types, int64_t retry_seconds, int *scanned, int *added);
/* A mail claimed for sending, due now, leased for lease_seconds so that
 * another process does not send it at the same time; what it is made of,
 * read now (the account's email and balance as they stand). data: the
 * event's data (malloc'd). A mail whose account has no email any more, or
 * whose event is gone, is dropped instead (state dropped). */
struct ledger_mail {
	int64_t event_id, attempts, created_at, balance_micros;
	char type[LEDGER_TEXT_BYTES(32)];
	char account[LEDGER_ID_MAX + 1];
	char email[LIMIT_EMAIL_BYTES + 1];
	char *data;
};
enum cd_err ledger_mails_claim(struct store *db, struct ledger_mail *out, int max, int64_t lease_seconds, int *n);
/* What the sending found: sent (ok), else a failed attempt with its error,
 * retried after an exponential backoff until retry_seconds after the event
 * was made, then left unsent (state failed). */
enum cd_err ledger_mail_sent(struct store *db, int64_t event_id, int ok, const char *error, int64_t retry_seconds);
/* Counts the mails not sent yet (state pending, at most
 * LIMIT_OUTBOX_COUNT_ROWS) and publishes the figure (metrics_mail_pending):
 * the background thread calls it once a sweep. */
enum cd_err ledger_mails_count(struct store *db);
/* Sends the event again (id), or every undelivered one (id 0), from now,
 * and its mail (every mail) left failed; count: how many events to push,
 * how many mails. */
enum cd_err ledger_events_retry(struct store *db, int64_t id, int count[2]);
/* Off-session charges (recharge.c sends them): an auto-recharge or a
 * pay-as-you-go collection due to be sent, leased for lease_seconds, with
 * what the PaymentIntent needs; or one sent whose PaymentIntent has had
 * no news for LIMIT_PAYMENT_NEWS_SECONDS (payment_intent set), due to be
 * fetched. */
struct ledger_recharge {
	int64_t id;
	int64_t amount_cents;
	int64_t attempts;
	int64_t period;		/* a collection's month (YYYYMM); 0 for an auto-recharge */
	int64_t try_no;		/* a collection's try, 1 to 3 (its Stripe Idempotency-Key's) */
	char account[LEDGER_ID_MAX + 1];
	char customer[LIMIT_STRIPE_ID_BYTES + 1];
	char payment_method[LIMIT_STRIPE_ID_BYTES + 1];
	char payment_intent[LIMIT_STRIPE_ID_BYTES + 1];	/* "": to be sent; else sent, to be fetched */
	int legacy_key;		/* tried before keys were salted (no decided_at): its unsalted key again */
	int decided;		/* decided_at set: it may have reached Stripe, its amount stays */
};
/* Pay-as-you-go collection (docs/pay-as-you-go.md), the sweep's part: looks at up to
 * max accounts not yet looked at for the month just over (by the ledger's
 * clock) and queues a collection for each that owes; *queued: how many;
 * *looked: how many it took to look at (max: there may be more). */
enum cd_err ledger_payg_sweep(struct store *db, int max, int *queued, int *looked);
/* creditctl collect: the accounts that owe for period (YYYYMM; 0: the
 * month before the clock's, set on the first call) now, or the one named. Each is a collection queued and leased to the caller
 * for lease_seconds (so the sender leaves it to the caller), unless
 * dry_run. Pages: call again with after as left while !done. */
struct ledger_collect {
	const char *account;	/* NULL: every account that owes */
	int64_t period;
	int dry_run;
	int64_t lease_seconds;
	int64_t after;		/* the page's cursor (start at 0) */
	int done;
};
enum cd_err ledger_payg_collect(struct store *db, struct ledger_collect *c, struct ledger_recharge *out, int max,
				int *n);
enum cd_err ledger_recharges_claim(struct store *db, struct ledger_recharge *out, int max, int64_t lease_seconds,
				   int *n);
/* Just before claimed charge r (a queued one, to be sent) goes to Stripe:
 * *go 1 when no dispute is open on its account, checked under the
 * account's lock, with the moment recorded (docs/api.md, "POST /v1/webhooks/stripe"); else a
 * collection waits and an auto-recharge ends unsent, *go 0. *go 0 on any
 * error (the charge is sent later). */
enum cd_err ledger_recharge_decide(struct store *db, const struct ledger_recharge *r, int *go);
enum ledger_recharge_outcome {
	RECHARGE_PAID,		/* Stripe answered the PaymentIntent succeeded: credited now (its
				 * webhook then finds it credited) */
	RECHARGE_SENT,		/* Stripe made the PaymentIntent, not paid yet: its webhook credits it */
	RECHARGE_DECLINED,	/* Stripe refused it (a card error, a 402): a failure */
	RECHARGE_RETRY		/* no answer, or Stripe failing: sent again later (a failure after
				 * LIMIT_RECHARGE_ATTEMPTS) */
};
enum cd_err ledger_recharge_result(struct store *db, int64_t id, enum ledger_recharge_outcome outcome,
				   const char *payment_intent, int64_t cents, const char *error);
/* A pay-as-you-go collection's try r made PaymentIntent payment_intent
 * (Stripe's answer named it: made, paid, or declined and still open at
 * Stripe): recorded before the outcome is
 * (docs/pay-as-you-go.md, "When the card is refused"), paid when Stripe
 * answered it paid, and marked to be cancelled at once when another try paid
 * the collection while this one was with Stripe. Nothing for an auto-recharge
 * (r->period 0) or no id. */
enum cd_err ledger_payg_try_made(struct store *db, const struct ledger_recharge *r, const char *payment_intent,
				 int paid);
/* A collection try's PaymentIntent to cancel at Stripe: another try of the
 * same collection paid it
 * (docs/pay-as-you-go.md, "When the card is refused"). Claimed (leased for
 * lease_seconds) by the sender, which cancels it and records the result. */
struct ledger_cancel {
	char payment_intent[LIMIT_STRIPE_ID_BYTES + 1];
	char account[LEDGER_ID_MAX + 1];
	int64_t recharge_id;
	int64_t try_no;
	int64_t attempts;	/* cancels tried before with no answer */
};
enum cd_err ledger_payg_cancels_claim(struct store *db, struct ledger_cancel *out, int max, int64_t lease_seconds,
				      int *n);
enum ledger_cancel_outcome {
	CANCEL_DONE,		/* cancelled (now, or before) */
	CANCEL_PAID,		/* it succeeded first: the collection paid twice, one payment for the
				 * operator to refund (creditctl verify warns) */
	CANCEL_REFUSED,		/* Stripe refused for good otherwise (it is gone): left, with
				 * Stripe's message, for the operator */
	CANCEL_RETRY		/* no answer, or Stripe failing: cancelled again later */
};
enum cd_err ledger_payg_cancel_result(struct store *db, const char *payment_intent,
				      enum ledger_cancel_outcome outcome, const char *error);
/* What a PaymentIntent fetched for want of news (docs/api.md, "without
 * news") came to. */
enum ledger_payment_news {
	PAYMENT_NEWS_SUCCEEDED,	/* succeeded: credited as its payment_intent.succeeded would be */
	PAYMENT_NEWS_FAILED,	/* requires_payment_method or canceled: failed as its
				 * payment_intent.payment_failed would be */
	PAYMENT_NEWS_NONE	/* still processing (or Stripe not reached): fetched again when its
				 * age has doubled, left (logged) once LIMIT_PAYMENT_NEWS_GIVE_UP_SECONDS
				 * old */
};
/* Applies the news of charge id's PaymentIntent payment_intent (cents
 * received, Stripe's error message): once, and only while the charge is
 * still with Stripe for that PaymentIntent (a webhook that came first
 * ended it: nothing more happens). */
enum cd_err ledger_payment_news(struct store *db, int64_t id, const char *payment_intent,
				enum ledger_payment_news news, int64_t cents, const char *error);
/* Journal page, newest first; cursor 0 = first page. Each row carries
 * `usage`: the usage record of a usage charge, or null (docs/api.md, "A row of cause `usage`").
 * member: NULL for every row, else only the usage rows of that member. */
enum cd_err ledger_transactions(struct store *db, const char *id, const char *member, int limit, int64_t cursor,
				json_t **out);

/* Grant priorities (0-100, lower burns first; docs/api.md "Grant priority").
 * A grant given none, a signup bonus and a top-up get the default; plan
 * grants get 10 (docs/decisions.md, "Grant priority"), so a period's plan credit is spent before
 * credit that was bought or given. */
#define GRANT_PRIORITY_DEFAULT 50
#define GRANT_PRIORITY_PLAN 10
/* Priorities an admin grant may take (0 burns first). */
#define GRANT_PRIORITY_MAX 100
struct grant_new {
	const char *account;
	int64_t amount_micros;
	const char *source;		/* promo|adjustment|signup_bonus */
	int64_t expires_at;		/* -1: never */
	int64_t priority;
	const char *description;
};
enum cd_err ledger_grant(struct store *db, const struct ledger_call *call, const struct grant_new *g,
			 struct ledger_result *res);

struct debit_new {
	const char *account;
	int64_t amount_micros;
	const char *reason;
};
enum cd_err ledger_debit(struct store *db, const struct ledger_call *call, const struct debit_new *d,
			 struct ledger_result *res);

/* The characters of names creditd checks (docs/api.md, "PUT /v1/plans/{name}"), and the check:
 * 1 when s is min to max of them (ledger_name_ok). */
#define LEDGER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define PLAN_NAME_CHARS LEDGER_ALNUM "_.-"
#define PROMO_CODE_CHARS LEDGER_ALNUM "_-"
#define STRIPE_ID_CHARS LEDGER_ALNUM "_"
int ledger_name_ok(const char *s, const char *chars, size_t min, size_t max);

/* ---- Plans (docs/api.md, "PUT /v1/plans/{name}") ---- */
struct plan_def {
	const char *name;		/* 1-64 of [A-Za-z0-9_.-], checked by the caller */
	int64_t credits_micros;
	const char *rollover;		/* none|full|capped */
	int64_t rollover_cap_micros;	/* -1: none (capped needs one) */
	int64_t member_cap_micros;	/* -1: none */
	const char *const *stripe_price_ids;
	int nprices;
};
/* Creates or replaces a plan: 200 with it. */
enum cd_err ledger_plan_put(struct store *db, const struct ledger_call *call, const struct plan_def *p,
			    struct ledger_result *res);
/* {"data": [plans by name]}. */
enum cd_err ledger_plans(struct store *db, json_t **out);

/* ---- Promo codes (docs/api.md, "POST /v1/promo_codes") ---- */
struct promo_new {
	const char *code;		/* 4-64 of [A-Za-z0-9_-], checked by the caller */
	int64_t amount_micros;
	int64_t max_redemptions;	/* -1: unlimited */
	int64_t expires_at;		/* -1: never */
	int64_t grant_ttl_days;		/* -1: the grant does not expire */
};
/* 201 with the code; a code that exists in any case: 409. */
enum cd_err ledger_promo_create(struct store *db, const struct ledger_call *call, const struct promo_new *p,
				struct ledger_result *res);
/* Redeems a code (any case) for an account: 201 {grant_id, amount_micros,
 * expires_at}, one promo grant; 404 unknown code, 409 already_redeemed,
 * promo_expired or promo_exhausted. The code's row is locked after the
 * account's, so concurrent redemptions count exactly. */
enum cd_err ledger_promo_redeem(struct store *db, const struct ledger_call *call, const char *account,
				const char *code, struct ledger_result *res);
/* A page of codes, oldest first, as the API shows one: those after the
 * code whose internal id is after_id, at most cap, into *page (a JSON
 * array the caller owns: json_decref); *last_id: the internal id of the
 * page's last code, to ask for the next page with (after_id when empty).
 * A page of fewer than cap is the last. */
enum cd_err ledger_promo_list(struct store *db, int64_t after_id, int cap, json_t **page, int64_t *last_id);

/* ---- Workspace members ---- */
struct member_put {
	const char *account;
	const char *member;
	int64_t monthly_cap_micros;	/* -1: no cap */
	int set_cap;			/* 0: an existing member keeps its cap */
	/* Rate limits per minute (-1: none), kept as they are unless set. */
	int64_t requests_per_minute, tokens_per_minute;
	int set_rpm, set_tpm;
};
/* A member of an account as the member's own browser token shows it
 * (docs/api.md, "Widget"): {member, monthly_cap_micros, month_spent_micros,
 * reserved_micros, remaining_micros}; the caller owns *out.
 * CD_E_NOT_FOUND when the account or the member does not exist. */
enum cd_err ledger_member_get(struct store *db, const char *account, const char *member, json_t **out);
/* Adds or updates a member (201 when new, 200 when updated); the account
 * must be a workspace (CD_E_INVALID otherwise). */
enum cd_err ledger_member_put(struct store *db, const struct ledger_call *call, const struct member_put *p,
			      struct ledger_result *res);
enum cd_err ledger_member_delete(struct store *db, const struct ledger_call *call, const struct member_put *p,
				 struct ledger_result *res);

/* ---- Prices ---- */
/* Loads models, actions and margin into the process-wide price cache, on
 * db, now: creditctl's commands, and creditd's reload thread. */
enum cd_err ledger_prices_reload(struct store *db);
/* creditd's reload thread: ledger_prices_start before the thread is made
 * (from then on lookups wait for it, a request that comes before it runs
 * too; it asks the first load), then ledger_prices_serve on the thread: a
 * reload each time one is asked for (asks made while one runs served by
 * the next), on db, until ledger_prices_stop. The only place creditd
 * reloads prices. */
void ledger_prices_start(void);
void ledger_prices_serve(struct store *db);
void ledger_prices_stop(void);
/* Asks the reload thread for a reload and returns (the sweep's, SIGHUP). */
void ledger_prices_ask(void);
/* What a request's model or action costs: the cache, or on a miss the
 * cache as read after the request came, reloaded by the reload thread (a
 * reload asked for earlier waited for, or one asked for, at most
 * LIMIT_PRICE_MISS_RELOADS a LIMIT_PRICE_MISS_RELOAD_MS whoever asks) and
 * looked at again. The caller waits on the thread, never opens a
 * transaction. 1 found, 0 not. */
int ledger_price_model_wait(const char *name, struct price *p, int64_t *margin_bps);
int ledger_price_action_wait(const char *name, int64_t *price_micros);
/* Looks a model up in the cache only, never waits (the batch's decisions,
 * which never reach the database). 1 found, 0 not. */
int ledger_price_model(const char *name, struct price *p, int64_t *margin_bps);
/* The price a call answered by provider is charged (docs/gateway.md,
 * "Which price a call is charged"): the provider's own row for the model
 * (*own 1), else the model's general row (*own 0); from the cache only.
 * 1 found, 0 not. */
int ledger_price_model_at(const char *name, const char *provider, struct price *p, int64_t *margin_bps, int *own);
int ledger_price_action(const char *name, int64_t *price_micros);
/* 1 once the cache was loaded (the reload thread loads it at start; a
 * request may come first). */
int ledger_prices_loaded(void);
/* ledger_prices_loaded, after waiting for a load by the reload thread
 * asked for after the call began when the cache was not loaded yet. */
int ledger_prices_ready(void);
/* The reloads lookups' misses asked the reload thread for. */
uint64_t ledger_prices_miss_asks(void);
json_t *ledger_prices_json(const char *currency);
/* Sets into's members named after each optional dimension of p
 * (pricing.h PRICE_DIMS): its value, reasoning true or false, null when
 * p does not price it. Returns into (its caller's). */
json_t *ledger_price_dims_json(const struct price *p, json_t *into);
/* The five token fields of p (input, cached input, cache write, output
 * prices and max_output_tokens) into the object into, each null when p
 * is a media row (no_tokens: docs/decisions.md, "A media row prices no
 * token"), but for the first three of one pricing its prompt's text
 * (text_input). Returns into (its caller's). */
json_t *ledger_price_tokens_json(const struct price *p, json_t *into);
/* Upserts rows (creditctl price import): all or nothing. A model's new
 * or changed price enters its history, effective now. */
enum cd_err ledger_prices_import(struct store *db, const struct price_row *rows, size_t n);
/* Waits until the cache holds a list read after the call began (creditd:
 * the reload thread reloads, asked if none is coming; creditctl, which
 * has none, reloads itself with ledger_prices_reload). */
void ledger_prices_sync(void);
/* One price a model had (creditctl price history). */
struct ledger_price_change {
	int64_t seq;			/* its row in price_history: the cursor with effective_at */
	struct price price;
	int64_t effective_at;		/* unix seconds */
	char provider[PRICING_PROVIDER_MAX + 1];	/* a provider's row's (sql/062); "": the general row's */
};
/* A page of a model's prices in the order they took effect, oldest
 * first: those after *after (NULL: from the first), at most cap, copied
 * into the caller's rows[0..*n); a page of fewer than cap is the last.
 * CD_E_NOT_FOUND: asked from the first, and no such model ever. */
enum cd_err ledger_price_history(struct store *db, const char *model, const struct ledger_price_change *after,
				 struct ledger_price_change *rows, int cap, int *n);

/* ---- Settle reasons ---- */
/* The reasons a gateway settle records (docs/api.md, "Settle reasons": the provider's
 * figures, the client gone mid-stream, an estimate, an error before any
 * output), as usage records keep them and reports count them, in this
 * order. A guard settle or usage has none (NULL). */
#define LEDGER_SETTLE_REASONS(X) X(provider_usage) X(client_gone) X(estimated) X(provider_error)
#define LEDGER_SETTLE_REASON_COUNT 4
/* The name of reason i, 0 to LEDGER_SETTLE_REASON_COUNT - 1 (static). */
const char *ledger_settle_reason(int i);
/* 1 when reason is NULL or one of LEDGER_SETTLE_REASONS, else 0: settle
 * and usage refuse any other as a caller's bug (CD_E_INTERNAL, logged). */
int ledger_settle_reason_ok(const char *reason);

/* ---- Reconciliation with the provider: ledger_reconcile.h ---- */

/* ---- Guard ---- */
struct guard_authorize {
	const char *account, *member, *model, *action, *request_id, *conversation_id;
	int64_t input_tokens;
	int64_t max_output_tokens;	/* -1: model default; set by the caller for a model */
	/* Shrink instead of refusing
	 * (docs/api.md, "Shrink instead of refusing"): -1, or the fewest
	 * output tokens the app accepts; then the hold is the largest output
	 * from max_output_tokens down to this that the account can afford. */
	int64_t min_output_tokens;
	int64_t ttl_seconds;		/* 0: [ledger] hold_ttl_seconds */
	int byok;
	int64_t amount_micros;		/* computed by the caller from prices */
	/* A model's price and margin the amount was computed with (priced):
	 * what a shrunk hold is priced with too. */
	struct price price;
	int64_t margin_bps;
	int priced;
	/* The gateway's worst case
	 * (docs/gateway.md, "The hold and the charge"): a shrunk hold is
	 * priced at hold_price (each token at the dearest price the call
	 * asked for) with hold_fees_raw (per-call fees, in the cost formula's
	 * units) added; price stays what is pinned. has_hold_price 0: price
	 * alone. */
	struct price hold_price;
	int64_t hold_fees_raw;
	int has_hold_price;
	/* With byok: a free gateway call (count_tokens) counted in the rate
	 * windows as a request, refused as a hold (404, 403, 429); no hold. */
	int count_only;
};
/* What a hold of r's input and `output` tokens costs (ledger_decide.c):
 * at hold_price with its fees (has_hold_price), else at price; the one
 * computation of a hold's amount, the guard's, the gateway's and a
 * shrunk hold's alike. r is priced. */
enum pricing_status ledger_decide_hold_cost(const struct guard_authorize *r, int64_t output, int64_t *cost);
enum cd_err ledger_authorize(struct store *db, const struct ledger_call *call, const struct guard_authorize *r,
			     struct ledger_result *res);

struct guard_settle {
	const char *hold_id;
	const char *model;		/* NULL: the hold's model */
	const char *conversation_id;
	int64_t input_tokens, cached_input_tokens, output_tokens;
	const unsigned char *request_hash;	/* 32 bytes: a replayed settle must match */
	const struct price *price;	/* model's price found by the caller, or NULL */
	int64_t margin_bps;		/* with price */
	const char *settle_reason;	/* the gateway's (docs/api.md); NULL: a guard settle */
	/* Input tokens written to the provider's prompt cache, part of
	 * input_tokens as cached ones are (cached + cache_write <= input),
	 * charged at the model's cache-write price (docs/api.md, "Costs"). */
	int64_t cache_write_input_tokens;
	/* The gateway's dimensions beyond tokens (docs/gateway.md, "What is billed"): what they add
	 * to (or, a cheaper tier, take from) the tokens' cost at the pinned
	 * prices, before the margin (pricing_dims_extra). 0 for the guard. */
	int64_t extra_raw;
};
enum cd_err ledger_settle(struct store *db, const struct ledger_call *call, const struct guard_settle *r,
			  struct ledger_result *res);
struct guard_release {
	const char *hold_id;
	int gateway;			/* the gateway's own release of its call's hold */
};
/* A gateway call's hold is made under a request_id of this prefix, which
 * POST /v1/guard/authorize refuses: only the call's own ending (a settle
 * with a settle_reason, a release with gateway set) settles or releases
 * it (docs/gateway.md, "A gateway hold is the gateway's"). */
#define LEDGER_GATEWAY_REQUEST_PREFIX "gw_"
/* The key of a POST /v1/usage sent without request_id: creditd's own, in
 * the prefix above that no client may send, and 32 random hex digits. */
#define LEDGER_OWN_USAGE_PREFIX LEDGER_GATEWAY_REQUEST_PREFIX "usage_"
#define LEDGER_OWN_USAGE_KEY_BYTES (sizeof(LEDGER_OWN_USAGE_PREFIX) + 32)

enum cd_err ledger_release(struct store *db, const struct ledger_call *call, const struct guard_release *r,
			   struct ledger_result *res);

struct guard_usage {
	const char *account, *member, *model, *action, *request_id, *conversation_id;
	int64_t input_tokens, cached_input_tokens, output_tokens;
	int byok;
	int force;			/* charge past every check (journal source "forced") */
	int64_t cost_micros;		/* priced by the caller (0 with byok) */
	const unsigned char *request_hash;	/* 32 bytes: a replayed request_id must match */
	const char *settle_reason;	/* the gateway's (docs/api.md); NULL: not the gateway's */
	int64_t cache_write_input_tokens;	/* as guard_settle's; priced by the caller in cost_micros */
};
enum cd_err ledger_usage(struct store *db, const struct ledger_call *call, const struct guard_usage *r,
			 struct ledger_result *res);

/* Group commit's counters for /metrics: batches run, operations in
 * them, and batches by size (count[i]: sizes up to le[i], above the
 * bucket before; the last bucket also takes larger ones); accounts a
 * batch's read found with an expiry or a plan's credit due, each brought
 * due in a transaction of its own before the batch read it again. */
#define LEDGER_BATCH_BUCKETS 7
struct ledger_batch_stats {
	unsigned long long batches, ops;
	unsigned long long count[LEDGER_BATCH_BUCKETS];
	int le[LEDGER_BATCH_BUCKETS];
	unsigned long long brought_due;
};
void ledger_batch_stats(struct ledger_batch_stats *s);
/* Guard batches since start by how their rows came (ledger_rowcache.h):
 * kept in memory, read, or kept but refused at the write. */
struct ledger_kept_stats {
	unsigned long long filled, read, refused;
};
void ledger_kept_stats(struct ledger_kept_stats *s);

struct usage_query {
	const char *account;
	int64_t from, to;		/* unix seconds, [from, to) */
	const char *group_by;		/* model|day|member */
	const char *member;		/* NULL: every member's usage; else that member's only */
};
enum cd_err ledger_usage_report(struct store *db, const struct usage_query *q, json_t **out);

/* ---- Background work ---- */
/* Sweeps up to `max` accounts whose holds or grants are due, writes on
 * the receipts kept for top-ups credited since, and purges what retention
 * lets go (docs/decisions.md, "Retention": idempotency keys past [ledger]
 * idempotency_ttl_hours, Stripe event ids and finished holds past their
 * [retention] days; never journal or usage rows), in batches. */
enum cd_err ledger_sweep(struct store *db, int max, int *swept);
/* The tables the sweep purges, for /metrics: ledger_purged_rows(i, &name)
 * for i below LEDGER_PURGE_TABLES is the rows purged from table `name` (a
 * static string) since the process started. Any thread, no round trip. */
#define LEDGER_PURGE_TABLES 6
unsigned long long ledger_purged_rows(int i, const char **table);

/* ---- Stripe ---- */
struct topup_begin {
	const char *account;
	int64_t amount_cents;
	const unsigned char *key_hash;	/* 32 bytes: SHA-256 of the client's Idempotency-Key; NULL: none */
	const unsigned char *request_hash;	/* 32 bytes: method, path and body (api_request_hash) */
	char customer[LIMIT_STRIPE_ID_BYTES + 1];	/* out: existing customer or "" */
	int64_t topup_id;		/* out */
	int64_t account_internal_id;	/* out: stable id for Stripe idempotency keys */
	int64_t retry_after_seconds;	/* out, with CD_E_RATE_LIMITED: when stripe.topups_per_hour allows one */
	int64_t quoted_micros;		/* out: the credit the top-up gives when paid (its answer's credits_micros) */
	int busy;			/* out, with CD_E_CONFLICT: 1 the key's top-up is still calling
					 * Stripe, 0 the key was used with another request */
	int replayed;			/* out: 1 when the key's session is open already: session_id,
					 * checkout_url, amount_cents and quoted_micros are its, and
					 * nothing was recorded (no Stripe call is due) */
	char session_id[LIMIT_STRIPE_ID_BYTES + 1];	/* out, when replayed */
	char checkout_url[LIMIT_CHECKOUT_URL_BYTES + 1];	/* out, when replayed */
};
/* Under the account's row lock, before anything is sent to Stripe
 * (docs/decisions.md, "A top-up's Idempotency-Key"): with an Idempotency-Key,
 * its latest top-up decides first (another request: CD_E_CONFLICT; one still
 * calling Stripe: CD_E_CONFLICT with busy; an open session: CD_OK with
 * replayed, nothing counted); then the account's top-ups of the last hour,
 * every attempt whatever became of it, are counted: CD_E_RATE_LIMITED (with
 * retry_after_seconds) at stripe.topups_per_hour, nothing recorded. Else
 * records a pending top-up, with the credit it quotes at today's
 * stripe.topup_rate. */
enum cd_err ledger_topup_begin(struct store *db, struct topup_begin *t);
enum cd_err ledger_topup_set_customer(struct store *db, const char *account, const char *customer,
				      char *stored, size_t cap);
/* Records the session (and its url) of a top-up, or (session_id NULL)
 * marks failed a top-up whose session could not be created: the row
 * stays, and counts toward stripe.topups_per_hour. */
enum cd_err ledger_topup_opened(struct store *db, int64_t topup_id, const char *session_id,
				const char *checkout_url);
/* Marks up to LIMIT_TOPUP_EXPIRE_BATCH top-ups pending for
 * LIMIT_TOPUP_PENDING_SECONDS expired (the background thread's pass);
 * *expired: how many. A late payment of one still credits. */
enum cd_err ledger_topups_expire(struct store *db, int *expired);
/* Grants the referral rewards held [referral] hold_days and due now (the
 * sweep's; docs/growth.md), one a transaction; *granted: how many. */
enum cd_err ledger_referrals_due(struct store *db, int *granted);
struct ledger_news;
/* Applies a verified event once (event id unique), in one transaction. */
enum cd_err ledger_news_apply(struct store *db, const struct ledger_news *ev, const char **outcome);

/* ---- Operators (creditctl) ----
 * These copy what they find into structs the caller provides, in the
 * order found, and return; the caller drives any paging. The ledger never
 * prints to stdout: creditctl does. */
/* One broken invariant: `check` names it; left and right are what should
 * agree, with the values found for `account`. A warning is a finding that
 * may be legitimate (a monthly limit lowered below the month's spend).
 * check, left and right are the ledger's constants (they live for ever);
 * the rest are copies (a value that was SQL NULL reads "NULL"). */
#define LEDGER_VERIFY_TEXT_BYTES LEDGER_TEXT_BYTES(255)
struct ledger_violation {
	const char *check;
	char account[LEDGER_VERIFY_TEXT_BYTES];
	const char *left;
	char left_value[LEDGER_VERIFY_TEXT_BYTES];
	const char *right;
	char right_value[LEDGER_VERIFY_TEXT_BYTES];
	int warning;
};
/* What verify found: the first LIMIT_VERIFY_VIOLATIONS findings of either
 * kind in found[0..n), in the order found; `more` counts the findings
 * past them; violations and warnings count them all. */
struct ledger_verify_report {
	long violations, warnings;
	long more;
	int n;
	struct ledger_violation found[LIMIT_VERIFY_VIOLATIONS];
};
/* verify, one check at a time (ledger_verify.c): the number of checks
 * and the name of check i (NULL past them); a report emptied, then check
 * i's findings added to it (the caller runs 0..checks-1, saying how far
 * it is between them). The report is about 800 KiB: the caller allocates
 * it, and nothing in it needs freeing. */
int ledger_verify_checks(void);
const char *ledger_verify_check_name(int i);
void ledger_verify_init(struct ledger_verify_report *report);
enum cd_err ledger_verify_step(struct store *db, int i, struct ledger_verify_report *report);
/* One journal row of an account, as ledger_export_next copies it out
 * (journal: source VARCHAR(32), reference VARCHAR(255), description
 * VARCHAR(500)). */
struct ledger_journal_row {
	int64_t seq;				/* 42 of "txn_42": the export's cursor */
	char id[32];				/* "txn_42" */
	int64_t amount_micros;
	int64_t balance_after_micros;
	char cause[LEDGER_NAME_MAX + 1];
	char source[LEDGER_TEXT_BYTES(32)];
	char reference[LEDGER_TEXT_BYTES(255)];
	char description[LEDGER_TEXT_BYTES(500)];
	int has_source, has_reference, has_description;	/* 0: SQL NULL (none) */
	int64_t created_at;			/* unix seconds */
};
/* A page of account `id`'s journal, oldest first: the rows whose seq is
 * above after_seq (0: from the first), at most cap (creditctl asks for
 * LIMIT_EXPORT_PAGE), copied into the caller's rows[0..*n); a page of
 * fewer than cap is the last. Each page is its own transaction: an
 * account's journal rows are written under its row lock, so their ids
 * increase in commit order and paging on from the last seq skips none.
 * CD_E_NOT_FOUND when there is no such account. */
enum cd_err ledger_export_next(struct store *db, const char *id, int64_t after_seq, struct ledger_journal_row *rows,
			       int cap, int *n);
#include "ledger_gateway.h"

#endif
