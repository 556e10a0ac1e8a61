/* ledger.h: the credit ledger, the only module that speaks SQL.
 *
 * A struct ledger is one worker thread's database connection with its
 * prepared statements; create one per thread, never share it. Every call
 * that changes money runs in one InnoDB transaction with the account row
 * locked, retried whole on transient conflicts, and keeps the invariants
 * of DESIGN §4. Calls that answer the API return jansson objects the
 * caller owns (json_decref) and an enum cd_err; "not found" is an answer. */
#ifndef CREDITD_LEDGER_H
#define CREDITD_LEDGER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "errors.h"
#include "limits.h"
#include "pricing.h"

#define LEDGER_ID_MAX LIMIT_ACCOUNT_ID_BYTES
#define LEDGER_NAME_MAX LIMIT_NAME_BYTES

struct cfg;
struct ledger;

/* Initialises the MariaDB client library once, before any thread. 0 or -1. */
int ledger_global_init(void);
/* Allocates a ledger bound to cfg (which must outlive it). Does not
 * connect yet. NULL on allocation failure. */
struct ledger *ledger_new(const struct cfg *cfg);
void ledger_free(struct ledger *lg);
/* Connects (or checks the connection): CD_OK or CD_E_UNAVAILABLE. */
enum cd_err ledger_ping(struct ledger *lg);

/* The database's health as the watchdog last saw it (process-wide).
 * UNKNOWN until a first probe, and for ever in creditctl. While DOWN,
 * every transaction is refused at once with CD_E_UNAVAILABLE. */
enum ledger_health { LEDGER_HEALTH_UNKNOWN, LEDGER_HEALTH_UP, LEDGER_HEALTH_DOWN };
enum ledger_health ledger_health(void);
/* A ledger for the watchdog: connect, read and write time out after
 * database.health_timeout_seconds. NULL on allocation failure. */
struct ledger *ledger_new_probe(const struct cfg *cfg);
/* Pings (connecting first when needed) and publishes the result. */
enum ledger_health ledger_health_probe(struct ledger *lg);
/* Ends a transaction a failed request may have left open. */
void ledger_end_request(struct ledger *lg);
/* Statements, commits and rollbacks sent so far (for the bench). */
unsigned long long ledger_round_trips(const struct ledger *lg);
/* The last error sentence (for creditctl). */
const char *ledger_errmsg(const struct ledger *lg);

/* Parses an id creditd made ("txn_42" with prefix "txn_"). 0 or -1. */
int ledger_id_parse(const char *s, const char *prefix, int64_t *id);

/* ---- API keys ---- */
enum cd_err ledger_key_auth(struct ledger *lg, const unsigned char hash[32], int *scopes);
enum cd_err ledger_key_create(struct ledger *lg, const unsigned char hash[32], const char *prefix,
			      const char *name, int scopes, int64_t *id);
/* Prints one line per key to stdout. */
enum cd_err ledger_key_list(struct ledger *lg);
enum cd_err ledger_key_revoke(struct ledger *lg, int64_t id);

/* ---- Idempotent writes ---- */
/* A write that an Idempotency-Key may protect: fn runs inside the
 * transaction and sets *out (a new reference) and *status. */
struct ledger_write {
	const char *idem_key;		/* NULL: no idempotency */
	const unsigned char *request_hash;	/* 32 bytes: method, path and body */
	enum cd_err (*fn)(struct ledger *lg, void *arg, json_t **out, int *status);
	void *arg;
};
/* Runs w. With a key: the same key and hash again returns the stored
 * response (*replayed = 1); another hash gives CD_E_CONFLICT with
 * *replayed = -1 (a CD_E_CONFLICT of fn itself leaves it 0). */
enum cd_err ledger_write(struct ledger *lg, const struct ledger_write *w, json_t **out, int *status,
			 int *replayed);

/* Stores a refusal (402, 403, 404, 409, 429) under an Idempotency-Key,
 * so the same key and body get the same answer again; a key already
 * stored (a concurrent request) is left as it is. */
enum cd_err ledger_idem_store_error(struct ledger *lg, const char *key, const unsigned char *request_hash,
				    int status, const json_t *response);

/* ---- Accounts ---- */
struct account_new {
	const char *id;
	const char *kind;		/* user|workspace */
	int64_t overdraft_limit_micros;
	int64_t monthly_limit_micros;	/* -1: none */
	int64_t low_balance_micros;	/* -1: none */
	const char *plan;		/* NULL: none */
	unsigned char create_hash[32];	/* of the normalised body */
	int id_conflict;		/* out: CD_E_CONFLICT came from the id, not a key */
};
/* 201 on creation (with the signup bonus), 200 for the same body again,
 * CD_E_CONFLICT for the same id with another body. */
enum cd_err ledger_account_create(struct ledger *lg, void *account_new, json_t **out, int *status);
enum cd_err ledger_account_get(struct ledger *lg, const char *id, json_t **out);

struct account_patch {
	const char *id;
	const char *status;		/* NULL: unchanged */
	int set_overdraft, set_monthly, set_low, set_plan;
	int64_t overdraft_limit_micros;
	int64_t monthly_limit_micros;	/* -1: remove */
	int64_t low_balance_micros;	/* -1: remove */
	const char *plan;		/* NULL with set_plan: remove */
	int64_t out_balance;		/* out: the balance a CD_E_INVALID refers to */
};
enum cd_err ledger_account_patch(struct ledger *lg, void *account_patch, json_t **out, int *status);

/* Journal page, newest first; cursor 0 = first page. */
enum cd_err ledger_transactions(struct ledger *lg, const char *id, int limit, int64_t cursor,
				json_t **out);

struct grant_new {
	const char *account;
	int64_t amount_micros;
	const char *source;		/* promo|adjustment|signup_bonus */
	int64_t expires_at;		/* -1: never */
	int64_t priority;
	const char *description;
	const char *invalid_param;	/* out: the field a CD_E_INVALID blames */
};
enum cd_err ledger_grant(struct ledger *lg, void *grant_new, json_t **out, int *status);

struct debit_new {
	const char *account;
	int64_t amount_micros;
	const char *reason;
};
enum cd_err ledger_debit(struct ledger *lg, void *debit_new, json_t **out, int *status);

/* ---- Workspace members ---- */
struct member_put {
	const char *account;
	const char *member;
	int64_t monthly_cap_micros;	/* -1: no cap */
	int set_cap;			/* 0: an existing member keeps its cap */
};
/* Adds or updates a member (201 when new, 200 when updated); the account
 * must be a workspace (CD_E_INVALID otherwise). */
enum cd_err ledger_member_put(struct ledger *lg, void *member_put, json_t **out, int *status);
enum cd_err ledger_member_delete(struct ledger *lg, void *member_put, json_t **out, int *status);

/* ---- Prices ---- */
/* Loads models, actions and margin into the process-wide price cache.
 * Called at start, by the sweeper and on SIGHUP. */
enum cd_err ledger_prices_reload(struct ledger *lg);
/* Looks a model up in the cache. 1 found, 0 not. */
int ledger_price_model(const char *name, struct price *p, int64_t *margin_bps);
int ledger_price_action(const char *name, int64_t *price_micros);
json_t *ledger_prices_json(const char *currency);
/* Upserts rows (creditctl price import): all or nothing. */
enum cd_err ledger_prices_import(struct ledger *lg, const struct price_row *rows, size_t n);

/* ---- Guard ---- */
struct guard_authorize {
	const char *account, *member, *model, *action, *request_id, *conversation_id;
	int64_t input_tokens;
	int64_t max_output_tokens;	/* -1: model default */
	int64_t ttl_seconds;
	int byok;
	int64_t amount_micros;		/* computed by the caller from prices */
	int64_t out_available;		/* on 402/429: what was available */
	int64_t out_required;		/* on 402/429: what the hold needed */
};
enum cd_err ledger_authorize(struct ledger *lg, void *guard_authorize, json_t **out, int *status);

struct guard_settle {
	const char *hold_id;
	const char *model;		/* NULL: the hold's model */
	const char *conversation_id;
	int64_t input_tokens, cached_input_tokens, output_tokens;
	unsigned char request_hash[32];
};
enum cd_err ledger_settle(struct ledger *lg, void *guard_settle, json_t **out, int *status);
enum cd_err ledger_release(struct ledger *lg, void *hold_id, json_t **out, int *status);

struct guard_usage {
	const char *account, *member, *model, *action, *request_id, *conversation_id;
	int64_t input_tokens, cached_input_tokens, output_tokens;
	int byok;
	int force;			/* charge past every check (journal source "forced") */
	unsigned char request_hash[32];
	int64_t out_available;		/* on 402/429: what was available */
	int64_t out_required;		/* on 402/429: what the usage costs */
};
enum cd_err ledger_usage(struct ledger *lg, void *guard_usage, json_t **out, int *status);

struct usage_query {
	const char *account;
	int64_t from, to;		/* unix seconds, [from, to) */
	const char *group_by;		/* model|day|member */
};
enum cd_err ledger_usage_report(struct ledger *lg, const struct usage_query *q, json_t **out);

/* ---- Background work ---- */
/* Sweeps up to `max` accounts whose holds or grants are due, and purges
 * idempotency keys older than the configured TTL. */
enum cd_err ledger_sweep(struct ledger *lg, int max, int *swept);

/* ---- Stripe ---- */
struct topup_begin {
	const char *account;
	int64_t amount_cents;
	char customer[256];		/* out: existing customer or "" */
	int64_t topup_id;		/* out */
	int64_t account_internal_id;	/* out: stable id for Stripe idempotency keys */
};
enum cd_err ledger_topup_begin(struct ledger *lg, struct topup_begin *t);
enum cd_err ledger_topup_set_customer(struct ledger *lg, const char *account, const char *customer,
				      char *stored, size_t cap);
/* Records the session of a top-up, or (session NULL) drops a top-up whose
 * session could not be created. */
enum cd_err ledger_topup_opened(struct ledger *lg, int64_t topup_id, const char *session_id);
struct webhook_event;
/* Applies a verified event once (event id unique), in one transaction. */
enum cd_err ledger_webhook_apply(struct ledger *lg, const struct webhook_event *ev, const char **outcome);

/* ---- Operators (creditctl) ---- */
enum cd_err ledger_migrate(struct ledger *lg, const char *sqldir);
/* Checks every invariant; prints each violation; *violations counts them. */
enum cd_err ledger_verify(struct ledger *lg, long *violations);
enum cd_err ledger_export(struct ledger *lg, const char *id, int csv);
#endif
