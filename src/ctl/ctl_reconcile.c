/* ctl_reconcile.c: creditctl reconcile (see ctl_reconcile.h).
 *
 * The provider's buckets are read and checked first (ctl_reconcile_read),
 * so bad input answers 2 before the ledger is asked anything. Provider
 * names are mapped to creditd's models (the same name, an alias, or an
 * OpenAI dated snapshot "-YYYY-MM-DD"); creditd's side is one grouped
 * query by day and model, its media calls by kind beside (sql/066). Money
 * stays integer: expected_micros is the pricing module's cost of the
 * provider's tokens (and characters and seconds) at the price in effect
 * that day; only the drift shown in % is a double, for display. */
#include "ctl_reconcile.h"
#include "ctl_common.h"
#include "ctl_reconcile_read.h"
#include "ctl_reconcile_rows.h"
#include "ctl_reconcile_store.h"
#include "ledger.h"
#include "ledger_reconcile.h"
#include "pricing.h"
#include "pricing_audio.h"
#include "timefmt.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void reconcile_usage(void)
{
	fprintf(stderr, "usage: creditctl reconcile FILE... [--format openai|anthropic|csv] [--from YYYY-MM-DD]\n"
			"       [--to YYYY-MM-DD] [--tolerance-pct N] [--json] [--provider NAME] [--no-store]\n");
}

/* ---- Options ---- */

/* An option of reconcile's that takes a value. */
static int valued(const char *a)
{
	static const char *const names[] = {"--from", "--to", "--provider", "--tolerance-pct", "--format", NULL};
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(a, names[i]) == 0)
			return 1;
	return 0;
}

/* Said on stderr, naming the option or the value (the usage text follows). */
static int bad_arg(const char *what, const char *arg)
{
	fprintf(stderr, "creditctl: reconcile: %s%s%s\n", what, arg != NULL ? ": " : "", arg != NULL ? arg : "");
	return -1;
}

/* Every option is known and has its value, every other argument is a
 * file: an option left without its value is refused, never taken for
 * absent (the run would store a comparison nobody asked for). */
static int parse_flags(int argc, char **argv, struct recon *r, int *first_file)
{
	*first_file = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			r->json = 1;
		else if (strcmp(argv[i], "--no-store") == 0)
			r->no_store = 1;
		else if (valued(argv[i]) && i + 1 >= argc)
			return bad_arg("an option without its value", argv[i]);
		else if (valued(argv[i]))
			i++;
		else if (strncmp(argv[i], "--", 2) == 0)
			return bad_arg("unknown option", argv[i]);
		else if (*first_file == 0)
			*first_file = i;
	}
	return *first_file == 0 ? bad_arg("no FILE given", NULL) : 0;
}

static int parse_args(int argc, char **argv, struct recon *r, enum recon_format *format, int *first_file)
{
	if (parse_flags(argc, argv, r, first_file) != 0)
		return -1;
	const char *from = ctl_common_opt(argc, argv, 2, "--from"), *to = ctl_common_opt(argc, argv, 2, "--to");
	const char *tol = ctl_common_opt(argc, argv, 2, "--tolerance-pct"), *fmt = ctl_common_opt(argc, argv, 2, "--format");
	r->provider = ctl_common_opt(argc, argv, 2, "--provider");
	if (r->provider != NULL && !ctl_reconcile_store_name_ok(r->provider))
		return bad_arg("--provider is 1 to 64 of a-z, 0-9, '.', '_', '-', not", r->provider);
	*format = fmt == NULL ? RECON_GUESS : strcmp(fmt, "openai") == 0 ? RECON_OPENAI
		: strcmp(fmt, "anthropic") == 0 ? RECON_ANTHROPIC : strcmp(fmt, "csv") == 0 ? RECON_CSV : -1;
	r->from = r->to = -1;
	r->tolerance_bps = 100;
	if ((int)*format < 0)
		return bad_arg("--format is openai, anthropic or csv, not", fmt);
	if (from != NULL && ctl_reconcile_read_parse_day(from, &r->from) != 0)
		return bad_arg("--from is not a day YYYY-MM-DD", from);
	if (to != NULL && ctl_reconcile_read_parse_day(to, &r->to) != 0)
		return bad_arg("--to is not a day YYYY-MM-DD", to);
	if (tol != NULL && (pricing_decimal_scaled(tol, 2, &r->tolerance_bps) != 0 || r->tolerance_bps > 1000000))
		return bad_arg("--tolerance-pct is not a percentage from 0 to 10000 (two decimals at most)", tol);
	if (r->from >= 0 && r->to >= 0 && r->to < r->from)
		return bad_arg("--to is a day before --from", to);
	if (r->to >= 0)
		r->to += TIMEFMT_SECONDS_PER_DAY;	/* --to is the last day, included */
	return 0;
}

/* The period: --from and --to, else the first and last day of the files. */
static int set_period(struct recon *r, const struct recon_buckets *b)
{
	if (r->from < 0)
		r->from = b->n > 0 ? b->v[0].day : 0;
	if (r->to < 0)
		r->to = b->n > 0 ? b->v[b->n - 1].day + TIMEFMT_SECONDS_PER_DAY : r->from;
	if (r->to < r->from || (r->to - r->from) / TIMEFMT_SECONDS_PER_DAY > LIMIT_RECONCILE_DAYS) {
		fprintf(stderr, "creditctl: reconcile: --from to --to must be 0 to %d days\n", LIMIT_RECONCILE_DAYS);
		return -1;
	}
	return 0;
}

/* ---- Model names ---- */

static int priced(const char *model)
{
	struct price p;
	int64_t margin;
	return ledger_price_model(model, &p, &margin);
}

/* OpenAI's dated snapshot "name-YYYY-MM-DD": the length of "name", else 0.
 * Anthropic's "name-YYYYMMDD" is a model of its own and stays itself. */
static size_t snapshot_base(const char *name)
{
	size_t len = strlen(name);
	if (len < 12)
		return 0;
	const char *d = name + len - 11;
	for (int i = 0; i < 11; i++)
		if ((i == 0 || i == 5 || i == 8) ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
			return 0;
	return len - 11;
}

int ctl_reconcile_map_model(const char *name, const struct ledger_price_alias *aliases, int naliases, char *out,
			    size_t cap)
{
	if (priced(name)) {
		snprintf(out, cap, "%s", name);
		return 1;
	}
	for (int i = 0; i < naliases; i++)
		if (strcmp(aliases[i].provider_name, name) == 0) {
			snprintf(out, cap, "%s", aliases[i].model);
			return 1;
		}
	size_t base = snapshot_base(name);
	if (base > 0) {
		snprintf(out, cap, "%.*s", (int)base, name);
		if (priced(out))
			return 1;
	}
	return 0;
}

static int note_unmatched(struct recon *r, const char *name)
{
	for (size_t i = 0; i < r->nunmatched; i++)
		if (strcmp(r->unmatched[i], name) == 0)
			return 0;
	if (r->nunmatched % 64 == 0) {
		void *bigger = realloc(r->unmatched, (r->nunmatched + 64) * sizeof(r->unmatched[0]));
		if (bigger == NULL)
			return -1;
		r->unmatched = bigger;
	}
	snprintf(r->unmatched[r->nunmatched++], sizeof(r->unmatched[0]), "%s", name);
	return 0;
}

/* ---- Rows ---- */

static struct recon_row *row_add(struct recon *r, int64_t day, const char *model)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		struct recon_row *bigger = realloc(r->rows, cap * sizeof(*bigger));
		if (bigger == NULL)
			return NULL;
		r->rows = bigger;
		r->cap = cap;
	}
	struct recon_row *w = &r->rows[r->n++];
	memset(w, 0, sizeof(*w));
	w->day = day;
	w->expected_micros = -1;
	snprintf(w->model, sizeof(w->model), "%s", model);
	return w;
}

static int row_cmp(const void *a, const void *b)
{
	const struct recon_row *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->model, y->model);
}

/* Adds w's parts to o's: counts of at most LIMIT_RECONCILE_COUNT_MAX
 * (10^15) each, summed as the token columns are (rows_fold), over the
 * buckets of one day × model. */
static void parts_add(struct recon_row *o, const struct recon_row *w)
{
	for (int t = 0; t < RECON_TIER_COUNT; t++)
		for (int l = 0; l < 2; l++) {
			struct recon_part *a = &o->parts[t][l];
			const struct recon_part *b = &w->parts[t][l];
			a->t.input_tokens += b->t.input_tokens;
			a->t.cached_input_tokens += b->t.cached_input_tokens;
			a->t.cache_write_input_tokens += b->t.cache_write_input_tokens;
			a->t.output_tokens += b->t.output_tokens;
			a->d.cache_write_1h_tokens += b->d.cache_write_1h_tokens;
			a->d.audio_input_tokens += b->d.audio_input_tokens;
			a->d.audio_output_tokens += b->d.audio_output_tokens;
			a->d.web_search_calls += b->d.web_search_calls;
		}
}

/* Sorts the rows and sums those of one day × model (two snapshots of one
 * model, or both sides once merged). */
static void rows_fold(struct recon *r)
{
	size_t out = 0;
	if (r->n > 1)
		qsort(r->rows, r->n, sizeof(r->rows[0]), row_cmp);
	for (size_t i = 0; i < r->n; i++) {
		struct recon_row *w = &r->rows[i], *o = out > 0 ? &r->rows[out - 1] : NULL;
		if (o == NULL || row_cmp(o, w) != 0) {
			r->rows[out++] = *w;
			continue;
		}
		for (int f = 0; f < F_COUNT; f++) {
			o->provider[f] += w->provider[f];
			o->creditd[f] += w->creditd[f];
		}
		parts_add(o, w);
		for (int k = 0; k < LEDGER_SETTLE_REASON_COUNT; k++)
			o->by_settle_reason[k] += w->by_settle_reason[k];
		for (int k = 0; k < LEDGER_MEDIA_KIND_COUNT; k++)
			o->media_calls[k] += w->media_calls[k];
		o->provider_requests = (o->provider_seen ? o->provider_requests : 1) &&
				       (w->provider_seen ? w->provider_requests : 1);
		o->provider_reports = ctl_reconcile_read_reports_join(o->provider_seen ? o->provider_reports : 0,
								      w->provider_seen ? w->provider_reports : 0);
		o->provider_seen |= w->provider_seen;
		o->matched |= w->matched;
		o->charged_micros += w->charged_micros;
	}
	r->n = out;
}

/* A bucket's figures beyond tokens, and its tokens as a part of the row
 * at its service tier and context window. */
static void provider_billed(struct recon_row *w, const struct recon_bucket *k)
{
	int64_t tier_tokens = k->input_tokens + k->output_tokens;	/* each at most 10^15 */
	w->provider_reports = k->reports;
	w->provider[F_CACHE_WRITE_1H] = k->cache_write_1h_tokens;
	w->provider[F_AUDIO_IN] = k->audio_input_tokens;
	w->provider[F_AUDIO_OUT] = k->audio_output_tokens;
	w->provider[F_SEARCHES] = k->web_search_calls;
	w->provider[F_PRIORITY] = k->tier == RECON_TIER_PRIORITY ? tier_tokens : 0;
	w->provider[F_FLEX] = k->tier == RECON_TIER_FLEX ? tier_tokens : 0;
	w->provider[F_LONG] = k->long_context ? tier_tokens : 0;
	w->provider[F_IMAGES] = k->images;
	w->provider[F_SPEECH_CHARS] = k->speech_characters;
	w->provider[F_TRANSCRIPTION_MS] = k->transcription_seconds * 1000;	/* at most 10^18 */
	struct recon_part *p = &w->parts[k->tier][k->long_context != 0];
	p->t = (struct pricing_tokens){k->input_tokens, k->cached_input_tokens, k->cache_write_input_tokens,
				       k->output_tokens};
	p->d = (struct pricing_dims_usage){(enum pricing_tier)k->tier, k->cache_write_1h_tokens, k->audio_input_tokens,
					   k->audio_output_tokens, k->web_search_calls, k->long_context != 0,
					   /* the provider's report names no size: the dearest fee */
					   PRICING_SEARCH_ANY};
}

static int provider_rows(struct recon *r, const struct recon_buckets *b, const struct ledger_price_alias *aliases,
			 int naliases)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct recon_bucket *k = &b->v[i];
		char model[RECON_MODEL_BYTES];
		if (k->day < r->from || k->day >= r->to)
			continue;
		int matched = ctl_reconcile_map_model(k->model, aliases, naliases, model, sizeof(model));
		if (!matched && note_unmatched(r, k->model) != 0)
			return -1;
		struct recon_row *w = row_add(r, k->day, matched ? model : k->model);
		if (w == NULL)
			return -1;
		w->matched = matched;
		w->provider_seen = 1;
		w->provider_requests = k->has_requests;
		w->provider[F_REQUESTS] = k->requests;
		w->provider[F_INPUT] = k->input_tokens;
		w->provider[F_CACHED] = k->cached_input_tokens;
		w->provider[F_CACHE_WRITE] = k->cache_write_input_tokens;
		w->provider[F_OUTPUT] = k->output_tokens;
		provider_billed(w, k);
	}
	rows_fold(r);
	return 0;
}

/* A model the files report (matched): creditd's days of it are rows even
 * where the provider has none. Other models belong to other providers. */
static int in_scope(const struct recon *r, size_t nprovider, const char *model)
{
	for (size_t i = 0; i < nprovider; i++)
		if (r->rows[i].matched && strcmp(r->rows[i].model, model) == 0)
			return 1;
	return 0;
}

static int creditd_rows(struct store *db, struct recon *r)
{
	struct ledger_usage_day *u = calloc(LIMIT_RECONCILE_ROWS, sizeof(*u));
	int n = 0, more = 0;
	enum cd_err rc = u == NULL ? CD_E_INTERNAL : ledger_usage_by_day(db, r->from, r->to, u, LIMIT_RECONCILE_ROWS,
									  &n, &more);
	size_t nprovider = r->n;
	if (rc == CD_OK && more) {
		fprintf(stderr, "creditctl: reconcile: more than %d day × model rows in creditd; narrow --from/--to\n",
			LIMIT_RECONCILE_ROWS);
		rc = CD_E_TOO_LARGE;
	}
	for (int i = 0; rc == CD_OK && i < n; i++) {
		if (!in_scope(r, nprovider, u[i].model))
			continue;
		struct recon_row *w = row_add(r, u[i].day, u[i].model);
		if (w == NULL) {
			rc = CD_E_INTERNAL;
			break;
		}
		w->matched = 1;
		w->creditd[F_REQUESTS] = u[i].requests;
		w->creditd[F_INPUT] = u[i].input_tokens;
		w->creditd[F_CACHED] = u[i].cached_input_tokens;
		w->creditd[F_CACHE_WRITE] = u[i].cache_write_input_tokens;
		w->creditd[F_OUTPUT] = u[i].output_tokens;
		w->charged_micros = u[i].charged_micros;
		const int64_t billed[] = {u[i].cache_write_1h_tokens, u[i].audio_input_tokens, u[i].audio_output_tokens,
					  u[i].web_search_calls, u[i].priority_tokens, u[i].flex_tokens,
					  u[i].long_context_tokens};
		memcpy(&w->creditd[F_BILLED], billed, sizeof(billed));
		w->creditd[F_IMAGES] = u[i].images;
		w->creditd[F_SPEECH_CHARS] = u[i].speech_characters;
		w->creditd[F_TRANSCRIPTION_MS] = u[i].transcription_ms;
		memcpy(w->media_calls, u[i].media_calls, sizeof(w->media_calls));
		memcpy(w->by_settle_reason, u[i].by_settle_reason, sizeof(w->by_settle_reason));
	}
	free(u);
	if (rc != CD_OK)
		return rc == CD_E_TOO_LARGE ? -1 : ctl_common_fail(db, rc, "reconcile");
	rows_fold(r);
	return 0;
}

/* ---- Judging a row ---- */


/* |creditd - provider| within tolerance_bps hundredths of a percent of
 * the provider's figure; a figure the provider has as 0 only matches 0. */
static int field_within(int64_t provider, int64_t creditd, int64_t tolerance_bps)
{
	__int128 diff = (__int128)creditd - provider;
	if (diff < 0)
		diff = -diff;
	return provider == 0 ? creditd == 0 : diff * 10000 <= (__int128)tolerance_bps * provider;
}

/* The provider's media units at price p (docs/reconciliation.md,
 * "Images, audio and speech"): characters and milliseconds at the row's
 * prices for them, into *extra (a row that bills speech by tokens prices
 * its tokens instead). 0, or -1 when they cannot be priced: images (the
 * report's sizes name no quality, the price rows do), or too large. */
static int expected_media(const struct recon_row *w, const struct price *p, __int128 *extra)
{
	static const int fields[] = {F_SPEECH_CHARS, F_TRANSCRIPTION_MS};
	static const enum price_dim dims[] = {PRICE_DIM_INPUT_CHAR, PRICE_DIM_INPUT_SECOND};
	if (w->provider[F_IMAGES] > 0)
		return -1;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int64_t price, raw;
		if (w->provider[fields[i]] == 0 || !pricing_dim_get(p, dims[i], &price))
			continue;
		if (pricing_audio_raw(w->provider[fields[i]], price, &raw) != PRICING_OK)
			return -1;
		*extra += raw;
	}
	return 0;
}

/* The provider's figures at price p (docs/gateway.md, "What is billed"): each part at its
 * service tier's and context window's prices with its 1-hour writes,
 * audio and searches, and its media units, summed before the margin,
 * rounded up once. 0, or -1 when they cannot be priced (a part's audio
 * above its uncached input: OpenAI counts cached audio, creditd prices
 * audio as uncached; images). */
static int expected(const struct recon_row *w, const struct price *p, int64_t margin, int64_t *cost)
{
	const struct pricing_tokens all = {w->provider[F_INPUT], w->provider[F_CACHED], w->provider[F_CACHE_WRITE],
					   w->provider[F_OUTPUT]};
	__int128 extra = 0;
	for (int t = 0; t < RECON_TIER_COUNT; t++)
		for (int l = 0; l < 2; l++) {
			const struct recon_part *part = &w->parts[t][l];
			struct pricing_dims_usage d = part->d;
			int64_t x;
			uint64_t unpriced;
			int64_t uncached = part->t.input_tokens - part->t.cached_input_tokens -
					   part->t.cache_write_input_tokens;
			d.tier = (enum pricing_tier)t;
			d.long_context = l;
			d.audio_input_tokens = d.audio_input_tokens < uncached ? d.audio_input_tokens : uncached;
			if (part->t.input_tokens + part->t.output_tokens + d.web_search_calls == 0)
				continue;
			if (pricing_dims_extra(p, &part->t, &d, &x, &unpriced) != PRICING_OK)
				return -1;
			extra += x;
		}
	if (expected_media(w, p, &extra) != 0)
		return -1;
	if (extra > INT64_MAX || extra < -INT64_MAX)
		return -1;
	return pricing_cost_with_extra(p, margin, &all, (int64_t)extra, cost) == PRICING_OK ? 0 : -1;
}

static int judge(struct store *db, struct recon *r)
{
	int all = 1;
	for (size_t i = 0; i < r->n; i++) {
		struct recon_row *w = &r->rows[i];
		w->within = 1;
		for (int f = 0; f < F_COUNT; f++)
			if (ctl_reconcile_rows_reported(w, f) && !field_within(w->provider[f], w->creditd[f], r->tolerance_bps))
				w->within = 0;
		all &= w->within;
		struct price p, now;
		int64_t margin, cost;
		int found = 0;
		if (!w->matched || !ledger_price_model(w->model, &now, &margin))
			continue;
		enum cd_err rc = ledger_price_in_effect(db, w->model, w->day + TIMEFMT_SECONDS_PER_DAY, &p, &found);
		if (rc != CD_OK)
			return ctl_common_fail(db, rc, "reconcile") * -1;
		if (found && expected(w, &p, margin, &cost) == 0)
			w->expected_micros = cost;
	}
	return all;
}

/* ---- Printing ---- */

static void day_text(int64_t day, char *out)
{
	timefmt_rfc3339(day, out);
	out[10] = '\0';
}

/* The signed drift of creditd against the provider in %, to two places
 * (computed in integers, shown as a number); null when the provider's
 * figure is 0 or not reported. */
static json_t *drift_json(int64_t provider, int64_t creditd, int reported)
{
	if (!reported || provider == 0)
		return json_null();
	__int128 q = ((__int128)creditd - provider) * 10000 * 2 / provider;
	q = q >= 0 ? (q + 1) / 2 : (q - 1) / 2;	/* hundredths, rounded half away from zero */
	return json_real((double)(int64_t)q / 100.0);
}

static json_t *side_json(const int64_t *v)
{
	json_t *o = json_object();
	for (int f = 0; f < F_MEDIA; f++)	/* the media units: the row's "media" */
		json_object_set_new(o, ctl_reconcile_rows_fields[f], json_integer((json_int_t)v[f]));
	return o;
}

static json_t *reasons_json(const int64_t *v)
{
	json_t *o = json_object();
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		json_object_set_new(o, ledger_settle_reason(i), json_integer((json_int_t)v[i]));
	return o;
}

/* 1 when row w has media calls of kind k (LEDGER_MEDIA_KINDS' order)
 * on creditd's side, or the provider's report of that kind. */
static int has_media(const struct recon_row *w, int k)
{
	static const unsigned int bits[LEDGER_MEDIA_KIND_COUNT] = {RECON_REPORTS_IMAGES, RECON_REPORTS_SPEECH,
								   RECON_REPORTS_TRANSCRIPTION};
	return w->media_calls[k] > 0 || w->creditd[F_MEDIA + k] > 0 || w->provider[F_MEDIA + k] > 0 ||
	       (w->provider_seen && (w->provider_reports & bits[k]) != 0);
}

/* Each media kind of w: its kind, creditd's calls of it, its unit and
 * both sides' figures of it (the provider's null when not reported). */
static json_t *media_json(const struct recon_row *w)
{
	json_t *a = json_array();
	for (int k = 0; k < LEDGER_MEDIA_KIND_COUNT; k++) {
		int f = F_MEDIA + k, rep = ctl_reconcile_rows_reported(w, f);
		if (has_media(w, k))
			json_array_append_new(a, json_pack("{s:s, s:I, s:s, s:o, s:I, s:o}", "kind", ledger_media_kind(k),
							   "calls", (json_int_t)w->media_calls[k], "units", ctl_reconcile_rows_fields[f],
							   "provider", rep ? json_integer(w->provider[f]) : json_null(),
							   "creditd", (json_int_t)w->creditd[f], "drift_pct",
							   drift_json(w->provider[f], w->creditd[f], rep)));
	}
	return a;
}

static json_t *row_json(const struct recon_row *w)
{
	char day[TIMEFMT_LEN];
	json_t *drift = json_object();
	day_text(w->day, day);
	for (int f = 0; f < F_MEDIA; f++)
		json_object_set_new(drift, ctl_reconcile_rows_fields[f],
				    drift_json(w->provider[f], w->creditd[f], ctl_reconcile_rows_reported(w, f)));
	json_t *media = media_json(w);
	json_t *row = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:b}", "day", day, "model", w->model,
				"provider", side_json(w->provider), "creditd", side_json(w->creditd), "drift_pct", drift,
				"by_settle_reason", reasons_json(w->by_settle_reason),
				"expected_micros", w->expected_micros >= 0 ? json_integer(w->expected_micros) : json_null(),
				"charged_micros", (json_int_t)w->charged_micros, "within_tolerance", w->within);
	/* Only a row with media calls or a media report has "media": the
	 * token routes' rows keep their keys. */
	if (row != NULL && json_array_size(media) > 0)
		json_object_set(row, "media", media);
	json_decref(media);
	return row;
}

static int print_json(const struct recon *r, int ok)
{
	json_t *rows = json_array(), *unmatched = json_array(), *holds = json_array();
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(rows, row_json(&r->rows[i]));
	for (size_t i = 0; i < r->nunmatched; i++)
		json_array_append_new(unmatched, json_string(r->unmatched[i]));
	for (int i = 0; i < r->nholds; i++) {
		char at[TIMEFMT_LEN];
		const struct ledger_expired_hold *h = &r->holds[i];
		timefmt_rfc3339(h->expired_at, at);
		json_array_append_new(holds, json_pack("{s:s, s:s, s:o, s:s}", "hold_id", h->hold_id,
						       "account", h->account, "model",
						       h->model[0] != '\0' ? json_string(h->model) : json_null(),
						       "expired_at", at));
	}
	json_t *tol = r->tolerance_bps % 100 == 0 ? json_integer(r->tolerance_bps / 100)
						  : json_real((double)r->tolerance_bps / 100.0);
	return ctl_common_print_json(json_pack("{s:b, s:o, s:o, s:o, s:o}", "ok", ok, "tolerance_pct", tol, "rows", rows,
					"unmatched_models", unmatched, "expired_holds", holds));
}

static void print_cell(int64_t provider, int64_t creditd, int reported)
{
	json_t *d = drift_json(provider, creditd, reported);
	char drift[32] = "-";
	if (json_is_real(d))
		snprintf(drift, sizeof(drift), "%+.2f%%", json_real_value(d));
	json_decref(d);
	printf(" %12" PRId64 " %12" PRId64 " %9s", provider, creditd, drift);
}

/* Under a row with anything billed beyond tokens on either side: each
 * such figure, provider creditd drift ("not reported" when the files do
 * not give it). */
static void print_billed(const struct recon_row *w)
{
	int64_t any = 0;
	for (int f = F_BILLED; f < F_MEDIA; f++)
		any |= w->provider[f] | w->creditd[f];
	if (any == 0)
		return;
	printf("%-10s %-32s beyond tokens:", "", "");
	for (int f = F_BILLED; f < F_MEDIA; f++) {
		if ((w->provider[f] | w->creditd[f]) == 0)
			continue;
		printf(" %s", ctl_reconcile_rows_fields[f]);
		if (ctl_reconcile_rows_reported(w, f))
			print_cell(w->provider[f], w->creditd[f], 1);
		else
			printf(" (not reported) %" PRId64, w->creditd[f]);
		printf(";");
	}
	printf("\n");
}

/* Under a row with media calls or the provider's media report: each
 * kind, creditd's calls of it, and its unit's provider creditd drift
 * ("not reported" when the files do not give it). */
static void print_media(const struct recon_row *w)
{
	int any = 0;
	for (int k = 0; k < LEDGER_MEDIA_KIND_COUNT; k++) {
		int f = F_MEDIA + k;
		if (!has_media(w, k))
			continue;
		if (!any++)
			printf("%-10s %-32s media:", "", "");
		printf(" %s %" PRId64 " call%s, %s", ledger_media_kind(k), w->media_calls[k],
		       w->media_calls[k] == 1 ? "" : "s", ctl_reconcile_rows_fields[f]);
		if (ctl_reconcile_rows_reported(w, f))
			print_cell(w->provider[f], w->creditd[f], 1);
		else
			printf(" (not reported) %" PRId64, w->creditd[f]);
		printf(";");
	}
	if (any)
		printf("\n");
}

/* Under a row with gateway calls, creditd's calls by settle reason. */
static void print_reasons(const struct recon_row *w)
{
	int64_t any = 0;
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		any += w->by_settle_reason[i];
	if (any == 0)
		return;
	printf("%-10s %-32s settled by reason:", "", "");
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		printf("%s %s %" PRId64, i > 0 ? "," : "", ledger_settle_reason(i), w->by_settle_reason[i]);
	printf("\n");
}

static void print_table(const struct recon *r, int ok)
{
	printf("%-10s %-32s %-36s %-36s %-36s %-36s %-36s %14s %14s %s\n", "day", "model",
	       "requests: provider creditd drift", "input_tokens", "cached_input_tokens", "cache_write_input_tokens",
	       "output_tokens", "expected_micros", "charged_micros", "");
	for (size_t i = 0; i < r->n; i++) {
		const struct recon_row *w = &r->rows[i];
		char day[TIMEFMT_LEN], expected[24] = "-";
		day_text(w->day, day);
		printf("%-10s %-32s", day, w->model);
		for (int f = 0; f < F_BILLED; f++)
			print_cell(w->provider[f], w->creditd[f], ctl_reconcile_rows_reported(w, f));
		if (w->expected_micros >= 0)
			snprintf(expected, sizeof(expected), "%" PRId64, w->expected_micros);
		printf(" %14s %14" PRId64 " %s\n", expected, w->charged_micros, w->within ? "ok" : "OUTSIDE");
		print_billed(w);
		print_media(w);
		print_reasons(w);
	}
	for (size_t i = 0; i < r->nunmatched; i++)
		printf("unmatched model: %s (creditctl price alias %s MODEL)\n", r->unmatched[i], r->unmatched[i]);
	for (int i = 0; i < r->nholds; i++) {
		char at[TIMEFMT_LEN];
		timefmt_rfc3339(r->holds[i].expired_at, at);
		printf("expired unsettled hold %s: account %s, model %s, expired %s\n", r->holds[i].hold_id,
		       r->holds[i].account, r->holds[i].model[0] != '\0' ? r->holds[i].model : "-", at);
	}
	if (r->more_holds)
		printf("more than %d expired unsettled holds: only the first are listed\n", LIMIT_RECONCILE_HOLDS);
	printf("%s: %zu rows, tolerance %" PRId64 ".%02" PRId64 " %%\n", ok ? "ok" : "outside tolerance", r->n,
	       r->tolerance_bps / 100, r->tolerance_bps % 100);
}

/* ---- The command ---- */

static int read_inputs(int argc, char **argv, int first_file, enum recon_format format, struct recon_buckets *b)
{
	for (int i = first_file; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			i += strcmp(argv[i], "--json") != 0 && strcmp(argv[i], "--no-store") != 0;
			continue;
		}
		if (ctl_reconcile_read_read_file(argv[i], format, b) != 0)
			return -1;
	}
	return ctl_reconcile_read_check_duplicates(b);
}

/* Aliases and the price cache, then both sides, the judgement and the
 * holds: 0, 1 or -1 (the ledger failed, said). */
static int reconcile_ledger(struct store *db, struct recon *r, const struct recon_buckets *b)
{
	struct ledger_price_alias *aliases = calloc(LIMIT_PRICE_ALIASES, sizeof(*aliases));
	int naliases = 0, more = 0, ok = -1;
	enum cd_err rc = aliases == NULL ? CD_E_INTERNAL : ledger_prices_reload(db);
	if (rc == CD_OK)
		rc = ledger_price_aliases(db, aliases, LIMIT_PRICE_ALIASES, &naliases, &more);
	r->holds = calloc(LIMIT_RECONCILE_HOLDS, sizeof(*r->holds));
	if (rc == CD_OK && r->holds == NULL)
		rc = CD_E_INTERNAL;
	if (rc == CD_OK)
		rc = ledger_expired_holds(db, r->from, r->to, r->holds, LIMIT_RECONCILE_HOLDS, &r->nholds, &r->more_holds);
	if (rc != CD_OK) {
		ctl_common_fail(db, rc, "reconcile");
		goto out;
	}
	if (provider_rows(r, b, aliases, naliases) != 0 || creditd_rows(db, r) != 0)
		goto out;
	ok = judge(db, r);
out:
	free(aliases);
	return ok;
}

int ctl_reconcile(struct store *db, int argc, char **argv)
{
	struct recon r;
	struct recon_buckets b = {NULL, 0, 0, 0, NULL, 0, 0, 0};
	enum recon_format format;
	int first_file, status;
	memset(&r, 0, sizeof(r));
	if (parse_args(argc, argv, &r, &format, &first_file) != 0) {
		reconcile_usage();
		return 2;
	}
	if (read_inputs(argc, argv, first_file, format, &b) != 0 || set_period(&r, &b) != 0) {
		status = 2;
		goto out;
	}
	int ok = reconcile_ledger(db, &r, &b);
	if (ok < 0) {
		status = 1;
		goto out;
	}
	/* The report first: a store that fails still leaves it printed
	 * (docs/reconciliation.md, "What is stored"), and exits 1. */
	if (r.json)
		print_json(&r, ok);
	else
		print_table(&r, ok);
	status = ok ? 0 : 1;
	if (!r.no_store && ctl_reconcile_store(db, &r, b.formats) != 0)
		status = 1;
out:
	ctl_reconcile_read_buckets_free(&b);
	free(r.rows);
	free(r.unmatched);
	free(r.holds);
	return status;
}

int ctl_reconcile_price_alias(struct store *db, int argc, char **argv)
{
	if (argc != 5 || strlen(argv[3]) == 0 || strlen(argv[3]) > LIMIT_PROVIDER_MODEL_BYTES) {
		fprintf(stderr, "usage: creditctl price alias PROVIDER_NAME MODEL\n");
		return 2;
	}
	enum cd_err rc = ledger_prices_reload(db);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "price alias");
	if (!priced(argv[4])) {
		fprintf(stderr, "creditctl: price alias: creditd has no model named %s\n", argv[4]);
		return 1;
	}
	rc = ledger_price_alias_set(db, argv[3], argv[4]);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "price alias");
	printf("%s reconciles as %s\n", argv[3], argv[4]);
	return 0;
}
