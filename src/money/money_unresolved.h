/* money_unresolved.h: an unresolved gateway hold judged from the
 * provider's per-minute usage (docs/reconciliation.md, "Unresolved
 * holds"; creditctl hold resolve --from-usage), in pure C: no I/O, no
 * clock, no allocation. ctl_resolve_usage.c reads the report and the
 * ledger, calls money_unresolved_plan, and resolves each hold it judged
 * through the ledger's one resolve operation (ledger_unresolved.c),
 * which caps the charge at the hold again under its lock.
 *
 * The rule. A hold's window is its call's minute (the hold's created_at
 * rounded down to the minute) and the next one (a call sent at 12:00:59
 * may be billed at 12:01); windows of one model that overlap are joined
 * into one, with every hold in them. A window is judged only when the
 * report covers every minute of it (a bucket for that minute, results or
 * none) and names the hold's model somewhere (else the report is another
 * provider's, or was fetched without it): otherwise its holds are left
 * as they are. The leftover of a window is, per token kind, the
 * provider's tokens of the model in its minutes less creditd's (its
 * usage records of that model made in those minutes), 0 at least: what
 * the window's unresolved calls used. No leftover: each hold is
 * released. Else each hold is charged its share of the leftover priced at
 * its own pinned prices, in proportion to what it held:
 *   charge = min(held, ceil(cost_at_its_prices × held / window's held))
 * so the charges add up to the leftover's cost (rounded up, never
 * under it), and a leftover costing as much as every hold or more
 * charges each its whole hold. Never more than a hold held. */
#ifndef CREDITD_MONEY_UNRESOLVED_H
#define CREDITD_MONEY_UNRESOLVED_H
#include "pricing.h"
#include <stddef.h>
#include <stdint.h>

#define MONEY_UNRESOLVED_MINUTE 60

/* One minute × model of usage (the provider's, or creditd's records). */
struct unres_usage {
	const char *model;		/* creditd's model name */
	int64_t minute;			/* its first second */
	struct pricing_tokens t;	/* cached + cache_write <= input */
};

enum unres_verdict {
	UNRES_UNREPORTED = 0,		/* the report never names its model: left */
	UNRES_UNCOVERED,		/* a minute of its window not in the report: left */
	UNRES_RELEASE,			/* no leftover: released */
	UNRES_CHARGE			/* charged its share */
};

struct unres_hold {
	/* In. */
	const char *model;
	int64_t created_at;		/* the hold's: its call's time */
	int64_t held;			/* amount_micros, >= 0 */
	struct price price;		/* its pinned prices (or the model's) */
	int64_t margin_bps;
	/* Out. */
	int64_t from, to;		/* its window [from, to) */
	enum unres_verdict verdict;
	struct pricing_tokens leftover;	/* the window's */
	int64_t window_held;		/* what the window's holds held */
	int64_t cost;			/* the leftover at its prices (INT64_MAX past int64) */
	int64_t charge;			/* UNRES_CHARGE: its charge, 1 to held */
};

/* The minute holding t (t >= 0). */
int64_t money_unresolved_minute(int64_t t);
/* Judges every hold of h (sorted by model, then created_at) by the
 * provider's usage prov and creditd's mine (each sorted by model, then
 * minute; one entry a minute × model). covered(ctx, minute) says whether
 * the report has a bucket for the minute. */
void money_unresolved_plan(struct unres_hold *h, size_t nh, const struct unres_usage *prov, size_t np,
			   const struct unres_usage *mine, size_t nm, int (*covered)(const void *ctx, int64_t minute),
			   const void *ctx);
#endif
