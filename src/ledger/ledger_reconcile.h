/* ledger_reconcile.h: what creditctl reconcile reads from the ledger
 * (ledger_reconcile.c, and the price in effect on a day, ledger_prices.c):
 * creditd's usage by day and model, the holds that expired unsettled, the
 * provider names mapped to models. */
#ifndef CREDITD_LEDGER_RECONCILE_H
#define CREDITD_LEDGER_RECONCILE_H
#include "ledger.h"

/* ---- Reconciliation with the provider (creditctl reconcile) ----
 * Reads only. Periods are [from, to) in unix seconds, whole UTC days. */

/* A media route's kind as its usage record names it (sql/066): images,
 * speech, transcription; moderations are free and record nothing. */
#define LEDGER_MEDIA_KINDS(X) X(images) X(speech) X(transcription)
enum { LEDGER_MEDIA_KIND_COUNT = 3 };
/* The name of kind i (< LEDGER_MEDIA_KIND_COUNT). */
const char *ledger_media_kind(int i);

/* creditd's side of one UTC day × model: its usage records, BYOK left out
 * (those calls ran on the user's own key). */
struct ledger_usage_day {
	int64_t day;				/* the day's first second */
	char model[LEDGER_TEXT_BYTES(LIMIT_NAME_BYTES)];
	int64_t requests, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens;
	int64_t charged_micros;
	/* The calls settled by each reason (LEDGER_SETTLE_REASONS' order);
	 * those with none are the rest of requests. */
	int64_t by_settle_reason[LEDGER_SETTLE_REASON_COUNT];
	/* What the gateway charged beyond tokens (sql/047): 1-hour writes,
	 * audio, searches; the tokens (input and output) of calls served
	 * at the priority and flex tiers and of calls in the long-context
	 * tier. */
	int64_t cache_write_1h_tokens, audio_input_tokens, audio_output_tokens, web_search_calls;
	int64_t priority_tokens, flex_tokens, long_context_tokens;
	/* The media routes' calls among requests, by kind (sql/066;
	 * LEDGER_MEDIA_KINDS' order), and their units: characters of
	 * speech, milliseconds of audio transcribed, images made. */
	int64_t media_calls[LEDGER_MEDIA_KIND_COUNT];
	int64_t speech_characters, transcription_ms, images;
};
/* Every day × model of [from, to) in one grouped query, ordered by day
 * and model, into rows (cap of them). *more = 1 when there were more than
 * cap (nothing is cut silently: the caller refuses). */
enum cd_err ledger_usage_by_day(struct store *db, int64_t from, int64_t to, struct ledger_usage_day *rows, int cap,
				int *n, int *more);
/* creditd's side of one minute × model (creditctl hold resolve
 * --from-usage): the tokens of its usage records made in it, BYOK left
 * out. */
struct ledger_usage_minute {
	int64_t minute;				/* its first second */
	char model[LEDGER_TEXT_BYTES(LIMIT_NAME_BYTES)];
	int64_t input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens;
};
/* Every minute × model of [from, to), as ledger_usage_by_day. */
enum cd_err ledger_usage_by_minute(struct store *db, int64_t from, int64_t to, struct ledger_usage_minute *rows,
				   int cap, int *n, int *more);
/* A hold whose time ran out in [from, to) before it was settled or
 * released, as of now: its call may have run uncharged. BYOK left out. */
struct ledger_expired_hold {
	char hold_id[LIMIT_HOLD_ID_BYTES];	/* as the API gave it: "hold_<account>_<hold>" */
	char account[LEDGER_TEXT_BYTES(LIMIT_ACCOUNT_ID_BYTES)];
	char model[LEDGER_TEXT_BYTES(LIMIT_NAME_BYTES)];	/* "": an action's hold */
	int64_t expired_at;
};
/* Up to cap of them, oldest first; *more as ledger_usage_by_day. */
enum cd_err ledger_expired_holds(struct store *db, int64_t from, int64_t to, struct ledger_expired_hold *rows,
				 int cap, int *n, int *more);
/* The model's price in effect just before `before` (its last change
 * before then, else its first one): *found = 0 when it was never priced. */
enum cd_err ledger_price_in_effect(struct store *db, const char *model, int64_t before, struct price *p, int *found);
/* A provider's model name mapped to a creditd model (price_aliases). */
struct ledger_price_alias {
	char provider_name[LEDGER_TEXT_BYTES(LIMIT_PROVIDER_MODEL_BYTES)];
	char model[LEDGER_TEXT_BYTES(LIMIT_NAME_BYTES)];
};
/* Every alias, up to cap, by provider name; *more as above. */
enum cd_err ledger_price_aliases(struct store *db, struct ledger_price_alias *rows, int cap, int *n, int *more);
/* Maps provider_name to model (replacing an earlier mapping). The caller
 * checked that model is priced. */
enum cd_err ledger_price_alias_set(struct store *db, const char *provider_name, const char *model);

/* ---- What a reconciliation compared (ledger_drift.c; sql/077) ---- */

/* One figure of one UTC day × model as creditctl reconcile compared it:
 * dimension a figure's name (docs/reconciliation.md, "What is stored"). */
struct ledger_drift_row {
	int64_t day;
	const char *model, *dimension;		/* borrowed */
	int64_t provider_value, creditd_value;
};
/* Replaces every stored row of provider in [from, to) with rows (n of
 * them), compared at db->now, in one transaction: the one write of
 * creditctl reconcile. */
enum cd_err ledger_drift_store(struct store *db, const char *provider, int64_t from, int64_t to,
			       const struct ledger_drift_row *rows, size_t n);
/* The stored rows of [from, to) as a JSON list into *out (the caller owns
 * it), by day, provider, model and dimension, each {"day", "provider",
 * "model", "dimension", "provider_value", "creditd_value", "drift",
 * "compared_at"}; at most cap, *more = 1 when there were more. */
enum cd_err ledger_drift_read(struct store *db, int64_t from, int64_t to, int cap, json_t **out, int *more);
/* The stored drift since `since` at a glance (GET /v1/overview): *out
 * null when nothing was compared since, else {"since", "compared_at",
 * "abs_drift_micros", "abs_drift_tokens", "rows"}. */
enum cd_err ledger_drift_recent(struct store *db, int64_t since, json_t **out);
#endif
