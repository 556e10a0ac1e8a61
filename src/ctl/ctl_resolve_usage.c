/* ctl_resolve_usage.c: creditctl hold resolve --from-usage (see
 * ctl_resolve_usage.h).
 *
 * The files are read by minutes first (ctl_reconcile_read, bucket_width=1m
 * pages or a CSV of minutes), so bad input answers 2 before the ledger is
 * asked anything. Then the unresolved holds made in the files' minutes
 * (and the minute before, so that a window reaching into the report from
 * outside it is seen, and left), creditd's usage records by minute and
 * model, and the provider's names mapped to creditd's models as
 * creditctl reconcile maps them. money_unresolved_plan judges each hold;
 * without --dry-run each judged one is resolved by
 * ledger_unresolved_resolve_noted, which locks the account and the hold,
 * finds it still unresolved and caps the charge at what it held. */
#include "ctl_resolve_usage.h"
#include "ctl_common.h"
#include "ctl_reconcile.h"
#include "ctl_reconcile_read.h"
#include "ledger.h"
#include "ledger_reconcile.h"
#include "ledger_unresolved.h"
#include "money_unresolved.h"
#include "timefmt.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RU_MODEL_BYTES LEDGER_TEXT_BYTES(LIMIT_PROVIDER_MODEL_BYTES)

struct ru {
	struct recon_buckets b;
	int dry_run, json;
	int64_t from, to;		/* the files' minutes [from, to) */
	struct ledger_unresolved_hold *rows;
	struct unres_hold *holds;
	int nholds;
	struct unres_usage *prov, *mine;
	size_t nprov, nmine;
	char (*names)[RU_MODEL_BYTES];	/* the models prov and mine name */
	struct ledger_usage_minute *minutes;
	struct ledger_usage_minute *unsafe;	/* minute × model a call still running or resolved already began in */
	int nunsafe;
	int failed;			/* a resolution refused or failed */
};

static const char *const verdicts[] = {"left: model not in the report", "left: minute not in the report", "release",
				       "charge"};

/* What is wrong, naming the argument (NULL: none), then the usage; 2. */
static int usage_line(const char *what, const char *arg)
{
	fprintf(stderr, "creditctl: hold resolve --from-usage: %s%s%s\n", what, arg != NULL ? ": " : "",
		arg != NULL ? arg : "");
	fprintf(stderr, "usage: creditctl hold resolve --from-usage FILE... [--format openai|anthropic|csv] [--dry-run] "
			"[--json]\n");
	return 2;
}

/* ---- Reading ---- */

static int read_files(int argc, char **argv, struct ru *r)
{
	const char *fmt = ctl_common_opt(argc, argv, 4, "--format");
	enum recon_format f = fmt == NULL ? RECON_GUESS : strcmp(fmt, "openai") == 0 ? RECON_OPENAI
			    : strcmp(fmt, "anthropic") == 0 ? RECON_ANTHROPIC : strcmp(fmt, "csv") == 0 ? RECON_CSV : -1;
	int files = 0;
	if ((int)f < 0)
		return usage_line("--format is openai, anthropic or csv, not", fmt);
	r->b.minutes = 1;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 && i + 1 >= argc)
			return usage_line("an option without its value", argv[i]);
		if (strcmp(argv[i], "--format") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "--json") == 0) {
			*(argv[i][2] == 'd' ? &r->dry_run : &r->json) = 1;
			continue;
		}
		if (strncmp(argv[i], "--", 2) == 0)
			return usage_line("unknown option", argv[i]);
		if (ctl_reconcile_read_read_file(argv[i], f, &r->b) != 0)
			return 2;
		files++;
	}
	if (files == 0)
		return usage_line("no FILE given", NULL);
	if (ctl_reconcile_read_check_duplicates(&r->b) != 0)
		return 2;
	r->from = r->b.ncovered > 0 ? r->b.covered[0] : 0;
	r->to = r->b.ncovered > 0 ? r->b.covered[r->b.ncovered - 1] + 60 : 0;
	return 0;
}

/* ---- The two sides, as money_unresolved_plan takes them ---- */

static int usage_cmp(const void *a, const void *b)
{
	const struct unres_usage *x = a, *y = b;
	int c = strcmp(x->model, y->model);
	return c != 0 ? c : x->minute < y->minute ? -1 : x->minute > y->minute;
}

/* Sorts u by model and minute and sums the entries of one minute × model
 * (two snapshots, tiers or context windows of one model): counts of at
 * most 10^15 each, LIMIT_RECONCILE_ROWS of them, no wrap. */
static size_t usage_fold(struct unres_usage *u, size_t n)
{
	size_t out = 0;
	if (n > 1)
		qsort(u, n, sizeof(u[0]), usage_cmp);
	for (size_t i = 0; i < n; i++) {
		struct unres_usage *o = out > 0 ? &u[out - 1] : NULL;
		if (o == NULL || usage_cmp(o, &u[i]) != 0) {
			u[out++] = u[i];
			continue;
		}
		o->t.input_tokens += u[i].t.input_tokens;
		o->t.cached_input_tokens += u[i].t.cached_input_tokens;
		o->t.cache_write_input_tokens += u[i].t.cache_write_input_tokens;
		o->t.output_tokens += u[i].t.output_tokens;
	}
	return out;
}

/* The provider's buckets under creditd's model names; a name that maps
 * to none is another provider's, or needs an alias: said, skipped. */
static int provider_side(struct store *db, struct ru *r)
{
	struct ledger_price_alias *aliases = calloc(LIMIT_PRICE_ALIASES, sizeof(*aliases));
	int naliases = 0, more = 0;
	enum cd_err rc = aliases == NULL ? CD_E_INTERNAL : ledger_prices_reload(db);
	if (rc == CD_OK)
		rc = ledger_price_aliases(db, aliases, LIMIT_PRICE_ALIASES, &naliases, &more);
	r->prov = calloc(r->b.n + 1, sizeof(*r->prov));
	r->names = calloc(r->b.n + 1, sizeof(*r->names));
	if (rc == CD_OK && (r->prov == NULL || r->names == NULL))
		rc = CD_E_INTERNAL;
	for (size_t i = 0; rc == CD_OK && i < r->b.n; i++) {
		const struct recon_bucket *k = &r->b.v[i];
		if (!ctl_reconcile_map_model(k->model, aliases, naliases, r->names[i], sizeof(r->names[i]))) {
			fprintf(stderr, "creditctl: hold resolve: %s: unmatched model %s, skipped (creditctl price alias "
				"%s MODEL)\n", k->path, k->model, k->model);
			continue;
		}
		r->prov[r->nprov++] = (struct unres_usage){r->names[i], k->day, {k->input_tokens,
			k->cached_input_tokens, k->cache_write_input_tokens, k->output_tokens}};
	}
	free(aliases);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "hold resolve");
	r->nprov = usage_fold(r->prov, r->nprov);
	return 0;
}

/* creditd's usage records by minute, over the holds' windows. */
static int creditd_side(struct store *db, struct ru *r)
{
	int n = 0, more = 0;
	r->minutes = calloc(LIMIT_RECONCILE_ROWS, sizeof(*r->minutes));
	r->mine = calloc(LIMIT_RECONCILE_ROWS, sizeof(*r->mine));
	enum cd_err rc = r->minutes == NULL || r->mine == NULL ? CD_E_INTERNAL
			 : ledger_usage_by_minute(db, r->from - 60, r->to + 60, r->minutes, LIMIT_RECONCILE_ROWS, &n,
						  &more);
	if (rc == CD_OK && more) {
		fprintf(stderr, "creditctl: hold resolve: more than %d minute × model rows in creditd; give a shorter "
			"report\n", LIMIT_RECONCILE_ROWS);
		return 1;
	}
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "hold resolve");
	for (int i = 0; i < n; i++) {
		const struct ledger_usage_minute *m = &r->minutes[i];
		r->mine[r->nmine++] = (struct unres_usage){m->model, m->minute, {m->input_tokens, m->cached_input_tokens,
			m->cache_write_input_tokens, m->output_tokens}};
	}
	r->nmine = usage_fold(r->mine, r->nmine);
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct ledger_unresolved_hold *x = a, *y = b;
	int c = strcmp(x->model, y->model);
	if (c != 0)
		return c;
	return x->created_at != y->created_at ? (x->created_at < y->created_at ? -1 : 1) : strcmp(x->hold_id, y->hold_id);
}

/* The unresolved holds of the files' minutes (and the one before), by
 * model and time, each at its pinned prices (or its model's today, for a
 * hold pinned none: an unpriced model's hold is charged its whole hold). */
static int holds_side(struct store *db, struct ru *r)
{
	int more = 0;
	r->rows = calloc(LIMIT_RECONCILE_HOLDS, sizeof(*r->rows));
	r->holds = calloc(LIMIT_RECONCILE_HOLDS, sizeof(*r->holds));
	enum cd_err rc = r->rows == NULL || r->holds == NULL ? CD_E_INTERNAL
			 : ledger_unresolved_list(db, r->from - 60, r->to, r->rows, LIMIT_RECONCILE_HOLDS, &r->nholds,
						  &more);
	if (rc == CD_OK && more) {
		fprintf(stderr, "creditctl: hold resolve: more than %d unresolved holds in the report's minutes; give a "
			"shorter report\n", LIMIT_RECONCILE_HOLDS);
		return 1;
	}
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "hold resolve");
	if (r->nholds > 1)
		qsort(r->rows, (size_t)r->nholds, sizeof(r->rows[0]), row_cmp);
	for (int i = 0; i < r->nholds; i++) {
		const struct ledger_unresolved_hold *w = &r->rows[i];
		struct unres_hold *h = &r->holds[i];
		h->model = w->model;
		h->created_at = w->created_at;
		h->held = w->held_micros;
		h->price = w->pin;
		h->margin_bps = w->pin_margin_bps;
		if (!w->has_pin && !ledger_price_model(w->model, &h->price, &h->margin_bps)) {
			h->price.input_micros_per_mtok = h->price.output_micros_per_mtok = INT64_MAX;
			h->margin_bps = 10000;	/* priced past int64: the whole hold */
		}
	}
	return 0;
}

/* ---- Resolving, printing ---- */

static int covered(const void *ctx, int64_t minute)
{
	return ctl_reconcile_read_covered(ctx, minute);
}

/* A window judged is left as it is when a call of its model began in it
 * that is still running or was resolved already
 * (ledger_unresolved_unsafe_minutes): its leftover could be that call's,
 * or counted twice (docs/reconciliation.md). */
static void leave_unsafe(struct ru *r)
{
	for (int i = 0; i < r->nholds; i++) {
		struct unres_hold *h = &r->holds[i];
		for (int j = 0; j < r->nunsafe && (h->verdict == UNRES_CHARGE || h->verdict == UNRES_RELEASE); j++)
			if (strcmp(r->unsafe[j].model, h->model) == 0 && r->unsafe[j].minute >= h->from &&
			    r->unsafe[j].minute < h->to) {
				h->verdict = UNRES_UNCOVERED;
				h->charge = 0;
			}
	}
}

static int unsafe_side(struct store *db, struct ru *r)
{
	r->unsafe = calloc(LIMIT_RECONCILE_ROWS, sizeof(*r->unsafe));
	enum cd_err rc = r->unsafe == NULL ? CD_E_INTERNAL
			 : ledger_unresolved_unsafe_minutes(db, r->from - 60, r->to + 60, r->unsafe, LIMIT_RECONCILE_ROWS,
							    &r->nunsafe);
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "hold resolve");
}

/* Resolves h through the ledger (unless a dry run): "captured",
 * "released", or what refused it into status. */
static void apply(struct store *db, struct ru *r, int i, char *status, size_t cap)
{
	const struct unres_hold *h = &r->holds[i];
	struct ledger_resolved out;
	int charge = h->verdict == UNRES_CHARGE;
	snprintf(status, cap, "%s", r->dry_run || h->verdict < UNRES_RELEASE ? "unresolved" : "");
	if (status[0] != '\0')
		return;
	enum cd_err rc = ledger_unresolved_resolve_noted(db, r->rows[i].hold_id, charge, charge ? h->charge : 0,
		charge ? "unresolved hold charged from the provider's usage"
		       : "unresolved hold released: the provider's usage shows none", &out);
	if (rc == CD_OK) {
		snprintf(status, cap, "%s", out.status);
		return;
	}
	r->failed = 1;
	if (rc == CD_E_CONFLICT && !out.unresolved) {
		fprintf(stderr, "creditctl: hold resolve: the hold %s is not unresolved any more (it is %s): nothing "
			"done\n", r->rows[i].hold_id, out.status);
		snprintf(status, cap, "%s", out.status);
	} else {
		ctl_common_fail(db, rc, "hold resolve");
		snprintf(status, cap, "failed");
	}
}

static json_t *hold_json(const struct ru *r, int i, const char *status)
{
	const struct unres_hold *h = &r->holds[i];
	char minute[TIMEFMT_LEN], from[TIMEFMT_LEN], to[TIMEFMT_LEN];
	timefmt_rfc3339(money_unresolved_minute(h->created_at), minute);
	timefmt_rfc3339(h->from, from);
	timefmt_rfc3339(h->to, to);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:s}", "hold_id",
			 r->rows[i].hold_id, "account", r->rows[i].account, "model", h->model, "minute", minute,
			 "window_from", from, "window_to", to, "action", verdicts[h->verdict], "leftover",
			 "input_tokens", (json_int_t)h->leftover.input_tokens, "cached_input_tokens",
			 (json_int_t)h->leftover.cached_input_tokens, "cache_write_input_tokens",
			 (json_int_t)h->leftover.cache_write_input_tokens, "output_tokens",
			 (json_int_t)h->leftover.output_tokens, "held_micros", (json_int_t)h->held, "window_held_micros",
			 (json_int_t)h->window_held, "charged_micros", (json_int_t)h->charge, "status", status);
}

static void hold_text(const struct ru *r, int i, const char *status)
{
	const struct unres_hold *h = &r->holds[i];
	char minute[TIMEFMT_LEN];
	timefmt_rfc3339(money_unresolved_minute(h->created_at), minute);
	printf("%s %s %s %s minute %s leftover %" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 " held %" PRId64
	       " charge %" PRId64 " -> %s\n", r->rows[i].hold_id, r->rows[i].account, h->model, verdicts[h->verdict],
	       minute, h->leftover.input_tokens, h->leftover.cached_input_tokens, h->leftover.cache_write_input_tokens,
	       h->leftover.output_tokens, h->held, h->charge, status);
}

static int run(struct store *db, struct ru *r)
{
	int rc = provider_side(db, r);
	rc = rc == 0 ? creditd_side(db, r) : rc;
	rc = rc == 0 ? holds_side(db, r) : rc;
	rc = rc == 0 ? unsafe_side(db, r) : rc;
	if (rc != 0)
		return rc;
	money_unresolved_plan(r->holds, (size_t)r->nholds, r->prov, r->nprov, r->mine, r->nmine, covered, &r->b);
	leave_unsafe(r);
	json_t *list = json_array();
	if (!r->json)
		printf("hold account model action minute leftover input/cached/cache_write/output held charge -> status\n");
	for (int i = 0; i < r->nholds; i++) {
		char status[32];
		apply(db, r, i, status, sizeof(status));
		if (r->json)
			json_array_append_new(list, hold_json(r, i, status));
		else
			hold_text(r, i, status);
	}
	if (r->json)
		ctl_common_print_json(json_pack("{s:b, s:o}", "dry_run", r->dry_run, "holds", list));
	else {
		json_decref(list);
		printf("%d unresolved holds in the report's minutes%s\n", r->nholds, r->dry_run ? " (dry run: nothing written)" : "");
	}
	return r->failed ? 1 : 0;
}

int ctl_resolve_usage(struct store *db, int argc, char **argv)
{
	struct ru r;
	memset(&r, 0, sizeof(r));
	int status = read_files(argc, argv, &r);
	if (status == 0)
		status = run(db, &r);
	ctl_reconcile_read_buckets_free(&r.b);
	free(r.rows);
	free(r.holds);
	free(r.prov);
	free(r.mine);
	free(r.names);
	free(r.minutes);
	return status;
}
