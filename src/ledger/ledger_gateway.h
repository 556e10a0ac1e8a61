/* ledger_gateway.h: the ledger's operations the gateway calls beside the
 * guard's (ledger.h includes it at its end; it is part of that contract,
 * kept apart so that ledger.h stays readable): an end user's gateway
 * keys, the provider objects its calls made, a hold's renewal while its
 * call runs, what a call was charged for beyond tokens, and one hold as GET
 * /v1/holds/{hold_id} shows it. Implemented in ledger_gwkeys.c,
 * ledger_gwobjects.c and ledger_gwcalls.c. */
#ifndef CREDITD_LEDGER_GATEWAY_H
#define CREDITD_LEDGER_GATEWAY_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "errors.h"
#include "limits.h"
#include "pricing.h"

struct store;

/* ---- Gateway keys (ledger_gwkeys.c; docs/api.md, "Gateway keys for end users") ----
 * An end user's keys for the gateway routes of one account: api_keys rows
 * of the gateway scope alone, bound to the account and maybe one member.
 * A key is answered as {id ("gwk_<n>"), prefix, member, name, expires_at,
 * created_at, last_used_at} (null for what it lacks; times RFC 3339); the
 * secret never. Listed and revoked only through the account named. */
struct gwkey_new {
	const unsigned char *hash;	/* 32 bytes: the key's SHA-256 */
	const char *prefix;		/* the key's first characters */
	const char *account;		/* external id */
	const char *member;		/* NULL: none */
	const char *name;		/* NULL: none */
	int64_t expires_at;		/* unix seconds; 0: never */
	const char *models;		/* the models it may call, comma-separated (keys.h); NULL: any */
};
/* Stores a gateway key and answers it in *out (the caller owns it; the
 * caller adds the secret). CD_E_NOT_FOUND: no such account; CD_E_CONFLICT:
 * it has LIMIT_GATEWAY_KEYS_PER_ACCOUNT live keys already. Nothing is
 * stored but on CD_OK. */
enum cd_err ledger_gwkey_create(struct store *db, const struct gwkey_new *n, json_t **out);
/* A page of the account's live gateway keys (neither revoked nor
 * expired), oldest first, after the key id after_id (0: from the first),
 * at most limit: {"data": [key...], "next_cursor", "has_more"}. The
 * caller owns *out. CD_E_NOT_FOUND: no such account. */
enum cd_err ledger_gwkey_list(struct store *db, const char *account, int limit, int64_t after_id, json_t **out);
/* Revokes the account's gateway key id (expired or not) and answers it
 * with its revoked_at in *out (the caller owns it). CD_E_NOT_FOUND with
 * *missing "account" (no such account) or "gateway key" (none of that id
 * of this account's, or revoked already). */
enum cd_err ledger_gwkey_revoke(struct store *db, const char *account, int64_t id, json_t **out,
				const char **missing);
/* ---- Provider objects (ledger_gwobjects.c; sql/061; docs/gateway.md, "Provider objects") ----
 * Every object a provider made through the gateway, with the account
 * that made it and the provider that holds it: Responses ids today
 * (previous_response_id names only those, and the object routes reach
 * only those), files, batches and their outputs to come. No money. Each
 * operation is one transaction on the account's node; the routing the
 * ledger had is kept. */
enum ledger_gw_kind {
	LEDGER_GW_RESPONSE = 0,		/* a Responses API answer ("resp_...") */
	LEDGER_GW_FILE,			/* an uploaded file */
	LEDGER_GW_BATCH,		/* a batch */
	LEDGER_GW_BATCH_OUTPUT,		/* a batch's output or error file */
	LEDGER_GW_KINDS
};
/* The kind as sql/061's enum names it ("response", ...). */
const char *ledger_gw_kind_name(enum ledger_gw_kind kind);
/* Keeps object id of kind, made by provider (its [provider NAME] or
 * §12's name) for account (external id); nothing for "" or NULL, nothing
 * new for an id the account has already. */
enum cd_err ledger_gw_object_keep(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id,
				  const char *provider);
/* *owned 1 when account has object id of kind (a response within
 * LIMIT_GATEWAY_RESPONSE_DAYS: the provider forgets it then), with its
 * provider copied into provider (cap bytes; "" : a row kept before sql/061
 * named none); 0 otherwise (another account's id included), provider "". */
enum cd_err ledger_gw_object_find(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id,
				  int *owned, char *provider, size_t cap);
/* Forgets account's object id of kind (the provider said it deleted it);
 * CD_OK whether it was there or not. */
enum cd_err ledger_gw_object_forget(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id);
/* ---- Background runs (ledger_gwbackground.c; sql/072; docs/gateway.md, "Background responses") ----
 * A Responses run made with "background": true, one row a run, keyed by
 * the provider's response id: whose it is, the hold that waits for it,
 * where it runs, what its charge is judged against, and when creditd's
 * poll looks at it next. The row keeps no money: the hold does. Each
 * operation is one small transaction. */
struct ledger_gw_run {
	char response_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];	/* external id */
	char hold_id[LIMIT_HOLD_ID_BYTES];
	char provider[LIMIT_CONFIG_NAME_BYTES];	/* the [provider NAME] (or §12's name) that runs it */
	char model[65];			/* the model priced (the body's) */
	int64_t output_cap;		/* the cap sent, -1: none */
	int64_t hold_input;		/* the input bound the hold covers */
	int64_t searches_held;		/* the web searches the hold covers */
	/* The answering try's price, as a whole call's settle charges it
	 * (docs/gateway.md, "Which price a call is charged"), and its usage
	 * record's figures: the try (1 the first) and whether the provider's
	 * own row priced it. has_price 0: a row kept without one (the
	 * hold's pin is charged). */
	int has_price;
	struct price price;
	int64_t margin_bps;
	int64_t attempt;
	int price_own;
	/* The request's fields the charge is decided with (gw_ask's): its
	 * tier (GW_TIER_*), its web search (0 none, 1 tools, 2
	 * web_search_options), at most web_search_max searches (-1 unsaid),
	 * their context size, and long_context_off. */
	int tier, web_search, web_search_size, long_context_off;
	int64_t web_search_max;
	int running;			/* 1 until its hold was settled (or kept unresolved) */
	char status[16];		/* the provider's last word: queued, in_progress, completed, ... */
	int64_t polls;			/* polls made so far (the back-off's step) */
	int64_t next_poll_at;		/* unix seconds */
	int64_t created_at;
};
/* Records run (running, first poll at run->next_poll_at) for its account;
 * CD_E_NOT_FOUND when no such account; an id recorded already is kept as
 * it was (CD_OK). */
enum cd_err ledger_gw_run_start(struct store *db, const struct ledger_gw_run *run);
/* The run of response id (any account's: a provider's webhook names only
 * the id) into *out, *found 1; *found 0 when none. */
enum cd_err ledger_gw_run_find(struct store *db, const char *response_id, struct ledger_gw_run *out, int *found);
/* The running runs due by now (next_poll_at <= now), earliest first, at
 * most cap into out[], *n of them. */
enum cd_err ledger_gw_run_due(struct store *db, struct ledger_gw_run *out, size_t cap, size_t *n);
/* A poll of a running run seen still running at status: polls made so far
 * (the caller's count: its row's and this one), looked at again at
 * next_poll_at; all of it only where the run's next_poll_at is still
 * claimed, the value the caller's claim (or read) left: a webhook that
 * moved the look to now meanwhile keeps it now (its answer said "still
 * running" before the run ended). Nothing for an ended run. */
enum cd_err ledger_gw_run_next(struct store *db, const char *response_id, int64_t claimed, const char *status,
			       int64_t polls, int64_t next_poll_at);
/* The run is over, with the provider's last status: its hold settled (or
 * kept unresolved). CD_OK whether it was running or not. */
enum cd_err ledger_gw_run_end(struct store *db, const char *response_id, const char *status);
/* A running run looked at now (a provider's webhook said it ended): its
 * next poll moved to now. *found 0 when no running run has that id. */
enum cd_err ledger_gw_run_wake(struct store *db, const char *response_id, int *found);
/* Every running run looked at now: a creditd that starts may have missed
 * a webhook while it was down. */
enum cd_err ledger_gw_run_wake_all(struct store *db);
/* The hold of every running run lives ttl_seconds from now (one UPDATE:
 * renewed before a round polls any, so that a slow round never lets a
 * hold expire); a hold already expired is left as it is. */
enum cd_err ledger_gw_run_renew_all(struct store *db, int64_t ttl_seconds);
/* Claims the run due at next_poll_at (as ledger_gw_run_due read it) for
 * one poll: its next poll moved to until, *claimed 1; *claimed 0 when
 * another poller moved it first (or it ended): not polled here. */
enum cd_err ledger_gw_run_claim(struct store *db, const char *response_id, int64_t next_poll_at, int64_t until,
				int *claimed);
/* ---- Jobs: long work a provider runs after its call answered
 * (ledger_gwjobs.c; sql/076; docs/gateway.md, "Batches") ----
 * One row a job (a batch today; kind says which), kept until it is
 * settled so that a restart loses none. No money here: a job's lines are
 * charged by ledger_usage and its hold released by ledger_release, each
 * idempotent; these operations keep where the job stands. */
struct ledger_gw_job {
	int64_t id;
	char kind[16];			/* "batch" */
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];
	char member[LIMIT_ACCOUNT_ID_BYTES + 1];	/* "": none */
	char object_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	char route[64];			/* its lines' gateway route ("/openai/v1/chat/completions") */
	char model[65];			/* the dearest model its lines named (a price list name) */
	char provider[LIMIT_CONFIG_NAME_BYTES];
	char hold_id[LIMIT_HOLD_ID_BYTES];
	char state[16];			/* running, settling, done */
	char status[32];		/* the provider's last status */
	char output_file_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	char error_file_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	int64_t line_cursor, lines_charged, lines_released;
	/* What its lines charged, apart from its hold, as far as a pass has
	 * counted them (sql/080); -1: unknown (a job kept before). */
	int64_t charged_micros;
	/* 1: its lines are keyed under the job (sql/081: gw_bj_<id>_...),
	 * what they charged read whole from their usage records; 0: a job
	 * kept before, its lines keyed by its hold alone (gw_bl_...). */
	int line_keys;
	int64_t next_poll_at, polls, created_at;
	int64_t claim;			/* the next_poll_at this pass last wrote (its claim); 0: not claimed */
};
/* Keeps what creditd read of a batch input file account uploaded: its
 * lines' endpoint, the dearest line's model, their count, the sum of
 * their worst cases, the provider's file object (JSON text), the
 * models its lines name (a JSON array's text) and the model each line
 * asked for where not the dearest (gwbatch_line_models' object's text;
 * sql/080). */
enum cd_err ledger_gw_batch_input_keep(struct store *db, const char *account, const char *file_id,
				       const char *endpoint, const char *model, int64_t lines, int64_t hold_micros,
				       const char *answer, const char *models, const char *line_models);
/* The provider's object of account's batch file file_id as kept, into
 * *answer (the caller owns it; NULL: none); *found 0 when not the
 * account's (one it deleted through creditd included: its file record
 * forgotten, every read below forgets its lines too). */
enum cd_err ledger_gw_file_answer(struct store *db, const char *account, const char *file_id, json_t **answer,
				  int *found);
/* A page of account's batch files, newest first, after after_id (NULL:
 * from the newest), at most limit, into *data (the caller's), *has_more. */
enum cd_err ledger_gw_file_list(struct store *db, const char *account, const char *after_id, int limit, json_t **data,
				int *has_more);
/* *found 1 with the file's endpoint (cap bytes), model, lines, hold,
 * the models its lines name (*models, the caller's; NULL when the file
 * was kept without them) and the model each line asked for where not the
 * dearest (*line_models, the caller's; NULL when kept without them) when
 * account uploaded file_id through creditd and has not deleted it; 0
 * otherwise. */
enum cd_err ledger_gw_batch_input_find(struct store *db, const char *account, const char *file_id, char *endpoint,
				       size_t cap, char model[65], int64_t *lines, int64_t *hold_micros, int *found,
				       json_t **models, json_t **line_models);
/* Adds job j (its id, state and counts are the table's defaults) with
 * answer (the provider's object, JSON text; NULL: none) and the model
 * each of its lines asked for where not the dearest (line_models, a JSON
 * object's text; NULL: none kept). */
enum cd_err ledger_gw_job_add(struct store *db, const struct ledger_gw_job *j, const char *answer,
			      const char *line_models);
/* The model each line of account's job job_id asked for where not its
 * dearest, as kept (into *out, the caller's; NULL when the job kept
 * none: a job kept before sql/080, every line charged at the dearest). */
enum cd_err ledger_gw_job_line_models(struct store *db, const char *account, int64_t job_id, json_t **out);
/* Up to cap jobs not done whose next_poll_at has come (now), oldest poll
 * first, into rows[0..*n). */
enum cd_err ledger_gw_jobs_due(struct store *db, int64_t now, struct ledger_gw_job *rows, int cap, int *n);
/* Takes job j for one pass of one creditd (several may serve one
 * database): its next poll moved to until, if it is still the one j was
 * read with (*claimed 1, j's next_poll_at until); *claimed 0 when another
 * took it first. */
enum cd_err ledger_gw_job_claim(struct store *db, struct ledger_gw_job *j, int64_t until, int *claimed);
/* Writes j's state, status, files, counts, next poll and polls, and
 * answer when not NULL, while j's pass still holds the job (its
 * next_poll_at is j->claim, then j->next_poll_at): CD_E_CONFLICT when it
 * does not (a pass that outlived its lease, another creditd's since). */
enum cd_err ledger_gw_job_save(struct store *db, struct ledger_gw_job *j, const char *answer);
/* Keeps answer (the provider's object after a cancel, JSON text) and
 * status on account's running job of kind over object_id, and makes it
 * due now (its next pass polls it at once) unless a pass holds it: its
 * next_poll_at beyond poll_seconds from now is a pass's claim (a lease of
 * LIMIT_GATEWAY_BATCH_LEASE_POLLS polls), left as it is so that the pass
 * can still save. A job not running: nothing. */
enum cd_err ledger_gw_job_cancelled(struct store *db, const char *account, const char *kind, const char *object_id,
				    const char *answer, const char *status, int64_t poll_seconds);
/* *busy 1 when file_id is the output or error file of one of account's
 * jobs not yet done (its lines still to be settled from it), or a batch
 * output object kept for account that no done job names (its job's save
 * not yet seen). */
enum cd_err ledger_gw_file_busy(struct store *db, const char *account, const char *file_id, int *busy);
/* The provider's object as last kept for account's job of kind over
 * object_id whose route starts with route ("/openai/", "/anthropic/": a
 * provider kind's routes see only their own kind's jobs; "/": any), into
 * *answer (the caller owns it; NULL: none kept); *found 0 when the
 * account has no such job. */
enum cd_err ledger_gw_job_answer(struct store *db, const char *account, const char *kind, const char *route,
				 const char *object_id, json_t **answer, int *found);
/* A page of account's jobs of kind whose route starts with route (as
 * above), newest first, after the job over after_id (NULL: from the
 * newest), at most limit: their answers into *data (an array the caller
 * owns), *has_more. */
enum cd_err ledger_gw_job_list(struct store *db, const char *account, const char *kind, const char *route,
			       const char *after_id, int limit, json_t **data, int *has_more);
/* The hold of a gateway call still in flight lives ttl_seconds from now
 * (docs/gateway.md, "it lives as long as the call"), if it is pending and
 * not expired yet; CD_E_NOT_FOUND for an id that names no hold. */
enum cd_err ledger_hold_renew(struct store *db, const char *account, const char *hold_id, int64_t ttl_seconds);
/* What a gateway call was charged for beyond its tokens, kept on its usage record (sql/046, 047). */
struct ledger_usage_billed {
	int over_hold;			/* usage beyond what was asked, charged as reported */
	const char *service_tier;	/* "priority", "flex"; NULL: the standard one */
	int long_context;		/* every token at the long-context tier's prices */
	int64_t cache_write_1h_tokens, audio_input_tokens, audio_output_tokens, web_search_calls;
	/* The provider that answered last and the tries it took (sql/049):
	 * provider NULL and attempts 1 for a call its first provider (the
	 * one its request_id names) answered. */
	const char *provider;
	int attempts;
	int usage_unknown;		/* tokens no reading placed, at the dearest price (sql/056) */
	/* The provider whose own price for the model was charged (sql/062);
	 * NULL: the model's general price. */
	const char *price_provider;
	/* A media call's route kind and units, as charged (sql/066;
	 * docs/reconciliation.md): "images", "speech", "transcription"; NULL
	 * for a token route. Characters of speech, milliseconds of audio
	 * transcribed, images made. */
	const char *media_kind;
	int64_t media_characters, media_audio_ms, media_images;
};
/* Marks over_hold on account's usage record of request_id (a batch
 * line's: docs/gateway.md, "Batches"); nothing when there is none.
 * Idempotent. */
enum cd_err ledger_usage_over_hold(struct store *db, const char *account, const char *request_id);
/* Keeps b on the usage record of a gateway call's settled hold. */
enum cd_err ledger_usage_billed(struct store *db, const char *account, const char *hold_id,
				const struct ledger_usage_billed *b);
/* One hold as GET /v1/holds/{hold_id} shows it
 * (docs/api.md, "GET /v1/holds/{hold_id}"): its account, member, model,
 * provider and attempts (a gateway call's), status, what it held and charged,
 * the usage settled and its reason, over_hold, when it was made and ended.
 * CD_E_NOT_FOUND (REFUSE_HOLD_UNKNOWN) when no such hold. */
enum cd_err ledger_hold_get(struct store *db, const char *hold_id, json_t **out);

#endif
