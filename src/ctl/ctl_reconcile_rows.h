/* ctl_reconcile_rows.h: the rows creditctl reconcile builds (ctl_reconcile.c)
 * and stores (ctl_reconcile_store.c): one UTC day x model, the provider's
 * figures beside creditd's. */
#ifndef CREDITD_CTL_RECONCILE_ROWS_H
#define CREDITD_CTL_RECONCILE_ROWS_H
#include "ctl_reconcile_read.h"
#include "ledger.h"
#include "ledger_reconcile.h"
#include "pricing.h"

/* The fields compared: the tokens, then what is billed beyond them
 * (docs/reconciliation.md, "Read the table": F_BILLED on, shown under a row
 * when either side has any): 1-hour writes, audio, searches, and the tokens
 * (input and output) of calls at the priority and flex tiers and in the
 * long-context tier; then the media routes' units (F_MEDIA on: "Images,
 * audio and speech"): characters of speech, milliseconds of audio
 * transcribed, images made, each of its kind (LEDGER_MEDIA_KINDS' order). */
enum { F_REQUESTS, F_INPUT, F_CACHED, F_CACHE_WRITE, F_OUTPUT, F_CACHE_WRITE_1H, F_AUDIO_IN, F_AUDIO_OUT, F_SEARCHES,
       F_PRIORITY, F_FLEX, F_LONG, F_IMAGES, F_SPEECH_CHARS, F_TRANSCRIPTION_MS, F_COUNT };
enum { F_BILLED = F_CACHE_WRITE_1H, F_MEDIA = F_IMAGES };
_Static_assert(F_COUNT - F_MEDIA == LEDGER_MEDIA_KIND_COUNT, "a unit for each media kind");
/* A model name on either side: an alias's or usage's creditd model
 * (utf8mb4 text) or a provider's name. */
#define RECON_MODEL_BYTES LEDGER_TEXT_BYTES(LIMIT_PROVIDER_MODEL_BYTES)
_Static_assert(LIMIT_PROVIDER_MODEL_BYTES >= LIMIT_NAME_BYTES, "a creditd model name fits");

/* The provider's tokens of one service tier × context window of a row:
 * each is priced at its own prices, the row's expected cost their sum. */
struct recon_part {
	struct pricing_tokens t;
	struct pricing_dims_usage d;
};

struct recon_row {
	int64_t day;
	char model[RECON_MODEL_BYTES];	/* creditd's, or the provider's when unmatched */
	int64_t provider[F_COUNT], creditd[F_COUNT];
	struct recon_part parts[RECON_TIER_COUNT][2];	/* the provider's, by tier and long context */
	/* creditd's calls settled by each reason (docs/gateway.md, "settle reason"): drift should
	 * come from estimated ones alone. */
	int64_t by_settle_reason[LEDGER_SETTLE_REASON_COUNT];
	int64_t media_calls[LEDGER_MEDIA_KIND_COUNT];	/* creditd's media calls by kind (sql/066) */
	int provider_requests;		/* every bucket counted requests */
	unsigned int provider_reports;	/* RECON_REPORTS_* every bucket gave */
	int provider_seen, matched;
	int64_t expected_micros;	/* -1: no price (unmatched, or too large) */
	int64_t charged_micros;
	int within;
};

struct recon {
	struct recon_row *rows;
	size_t n, cap;
	int64_t from, to;		/* [from, to), whole UTC days */
	int64_t tolerance_bps;		/* hundredths of a percent */
	char (*unmatched)[RECON_MODEL_BYTES];
	size_t nunmatched;
	struct ledger_expired_hold *holds;
	int nholds, more_holds;
	int json;
	int no_store;			/* --no-store: print only, as before sql/077 */
	const char *provider;		/* --provider NAME (argv's), or NULL */
};

/* The fields' names, as --json and the stored rows name them. */
extern const char *const ctl_reconcile_rows_fields[F_COUNT];
/* 1 when the provider's files give field f of row w (a field not given is
 * shown and neither compared nor stored). */
int ctl_reconcile_rows_reported(const struct recon_row *w, int f);
#endif
