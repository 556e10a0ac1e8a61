/* gwmoney.h: the gateway's money decision on a call's usage (DESIGN §14,
 * "The gateway charges what the provider bills"): pure, no I/O, no
 * globals, so every case is a unit test (tests/unit/test_gwmoney.c).
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
#include <stddef.h>
#include <stdint.h>

/* What the call asked and was held for. */
struct gw_asked {
	enum gw_route route;
	int64_t output_cap;		/* the cap sent upstream, -1: none */
	int64_t choices;		/* Chat's n (≥ 1) */
	int64_t hold_input;		/* the input the hold covers */
};

struct gw_charge {
	struct gw_usage usage;		/* what is settled: a valid settle (cached + writes ≤ input) */
	int over_hold;			/* beyond what was asked: flagged */
	char why[192];			/* what was beyond, "" when not */
};

/* The charge of usage u on a call that asked a. Asserts u's counts are
 * not negative (gwshape never reads a negative count). */
void gwmoney_charge(const struct gw_asked *a, const struct gw_usage *u, struct gw_charge *out);
#endif
