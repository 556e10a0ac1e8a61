/* gwmoney.h: the gateway's money decision on a call's usage
 * (docs/gateway.md, "What is billed and how creditd prices it"): pure, no I/O, no
 * globals, so every case is a unit test (tests/unit/gateway/test_gwmoney.c).
 *
 * The provider's usage is a bill the operator pays: it is charged as
 * reported, never dropped. What is not as asked is charged and flagged
 * (over_hold, with why), never refused:
 * - output above the output cap sent (× Chat's n choices): charged;
 * - input above the bound the hold was made for: charged;
 * - cached (and cache-write) tokens above input: counted as input;
 * - output reported for embeddings (they bill input only): ignored, not
 *   flagged. */
#ifndef CREDITD_GWMONEY_H
#define CREDITD_GWMONEY_H
#include "gwshape.h"
#include "gwkind.h"
#include "pricing.h"
#include <stddef.h>
#include <stdint.h>

/* What the call asked and was held for. */
struct gw_asked {
	const struct gwkind_route *route;
	int64_t output_cap;		/* the cap sent upstream, -1: none */
	int64_t choices;		/* Chat's n (≥ 1) */
	int64_t hold_input;		/* the input the hold covers */
};

struct gw_charge {
	struct gw_usage usage;		/* what is settled: a valid settle (cached + writes ≤ input) */
	int over_hold;			/* beyond what was asked: flagged */
	int usage_unknown;		/* usage no reading placed, charged at the dearest token price */
	int64_t extra_raw;		/* the dimensions beyond tokens (gwmoney_dims), 0 until it runs */
	struct pricing_dims_usage dims;	/* and what they were, as charged; zero until it runs */
	char why[192];			/* what was beyond, "" when not */
};

/* The charge of usage u on a call that asked a. Asserts u's counts are
 * not negative (gwshape never reads a negative count). */
void gwmoney_charge(const struct gw_asked *a, const struct gw_usage *u, struct gw_charge *out);

/* The member of ask asking for a dimension p does not price (refused
 * before anything is forwarded: "service_tier", "cache_control", the
 * audio member, the web search one; the input's member when
 * ask->long_context is set and p has no tier input price), or NULL when
 * p prices all asked. */
const char *gwmoney_unpriced(const struct gw_ask *ask, const struct price *p);

/* The hold's worst case of what ask asks
 * (docs/gateway.md, "The hold and the charge"): *hold_price is p with each
 * token at the dearest price the call may be billed (the tier asked, "auto"
 * the dearest the row prices; input at its dearest of the tier's, cache
 * writes' (1-hour ones when asked) and audio's; output at the tier's or
 * audio's; with ask->long_context, the dearer of that at the standard prices
 * and at the long-context tier's), *fees_raw the web searches' fees (ask's
 * max, else searches_held) in the cost formula's units, *searches the
 * searches held. p prices all ask asks (gwmoney_unpriced). 0, or -1 when the
 * fees pass int64 (refused). */
int gwmoney_hold(const struct gw_ask *ask, const struct price *p, int64_t searches_held, struct price *hold_price,
		 int64_t *fees_raw, int64_t *searches);
/* A call that may be answered by more than one provider, each at its
 * own price (docs/gateway.md, "Which price a call is charged"): *held and
 * *fees_raw (one candidate's gwmoney_hold) raised to cover another's,
 * other and other_fees_raw: each token at the dearer of the two, the
 * dearer fees. The hold then covers whichever provider answers, at every
 * output it may be shrunk to. */
void gwmoney_hold_max(struct price *held, int64_t *fees_raw, const struct price *other, int64_t other_fees_raw);
/* The tier a call that asked ask is held and, ending without usage,
 * estimated at: the one asked; "auto" the priority tier when the row
 * prices it. */
int gwmoney_worst_tier(const struct gw_ask *ask, const struct price *p);

/* The dimensions beyond tokens of usage u (the tier served, 1-hour cache
 * writes, audio, searches) priced at the call's pinned price p: the
 * extra for the settle (pricing_dims_extra), over_hold and why added to
 * *c when u used a dimension p does not price (charged at the standard
 * price), a dearer tier than asked, or more searches than held; and u's
 * unknown tokens at p's dearest token price (usage_unknown set). */
enum pricing_status gwmoney_dims(const struct gw_ask *ask, const struct price *p, int64_t searches_held,
				 const struct gw_usage *u, int64_t *extra_raw, struct gw_charge *c);

/* A tool's own model (docs/gateway.md, "A tool's own model"): what a
 * call's hold covers of its runs. */
struct gw_tool_held {
	int64_t runs;			/* the tool's max_uses, else [gateway] max_tool_calls_held */
	int64_t input, output;		/* each run's tokens */
	int64_t raw;			/* their worst case in the cost formula's units */
};
/* The hold of ask's tool model at its row tp: each run reads at most the
 * conversation (call_input, the call's input bound, with call_output and
 * every run's output, which it is shown) at tp's dearest input price
 * (uncached, cache read, cache write, the 1-hour one when asked) and
 * writes the tool's max_tokens, else tp's max_output_tokens. 0, or -1
 * when the figures pass LIMIT_TOKENS_MAX or int64 (refused). */
int gwmoney_tool_hold(const struct gw_ask *ask, const struct price *tp, int64_t runs_held, int64_t call_input,
		      int64_t call_output, struct gw_tool_held *h);
/* The runs of u's tool model priced: each token at tp's price (the
 * pinned row of the model the tool asked), added to *extra_raw. A run
 * naming another model is charged at the dearer of tp and named (that
 * model's row; NULL: not priced, or runs naming several: tp's dearest
 * token price for every token), over_hold; more runs than held (h),
 * over_hold; runs where no tool model was asked (tp is the call's row),
 * over_hold. */
enum pricing_status gwmoney_tool(const struct gw_ask *ask, const struct price *tp, const struct price *named,
				 const struct gw_tool_held *h, const struct gw_usage *u, int64_t *extra_raw,
				 struct gw_charge *c);
/* What an estimate charges of a tool's runs (a stream cut before its
 * usage): those seen, else the runs h held, each at its held input and
 * output, at the model asked. */
void gwmoney_tool_estimate(const struct gw_ask *ask, const struct gw_tool_held *h, const struct gw_tool_usage *seen,
			   struct gw_tool_usage *t);
#endif
