/* gwmoney.c: the gateway's money decision (gwmoney.h). */
#include "gwmoney.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Appends a clause to why ("; " between), cut to fit. */
static void say(struct gw_charge *out, const char *clause)
{
	size_t len = strlen(out->why);
	if (len + 3 >= sizeof(out->why))
		return;
	snprintf(out->why + len, sizeof(out->why) - len, "%s%s", len > 0 ? "; " : "", clause);
}

void gwmoney_charge(const struct gw_asked *a, const struct gw_usage *u, struct gw_charge *out)
{
	char clause[128];
	assert(u->input_tokens >= 0 && u->cached_input_tokens >= 0 && u->cache_write_tokens >= 0 && u->output_tokens >= 0);
	memset(out, 0, sizeof(*out));
	out->usage = *u;
	struct gw_usage *c = &out->usage;
	if (a->route == GW_OPENAI_EMBEDDINGS)
		c->output_tokens = 0;		/* embeddings bill input only */
	/* Cache reads and writes are parts of the input: reported above it,
	 * the input is taken to be at least their sum. */
	if (c->cached_input_tokens > INT64_MAX - c->cache_write_tokens)
		c->cached_input_tokens = INT64_MAX - c->cache_write_tokens;	/* no overflow; flagged below */
	int64_t parts = c->cached_input_tokens + c->cache_write_tokens;
	if (parts > c->input_tokens) {
		snprintf(clause, sizeof(clause), "cached (%lld) and cache-write (%lld) input above input (%lld): counted as input",
			 (long long)u->cached_input_tokens, (long long)u->cache_write_tokens, (long long)u->input_tokens);
		say(out, clause);
		c->input_tokens = parts;
		out->over_hold = 1;
	}
	if (a->hold_input >= 0 && c->input_tokens > a->hold_input) {
		snprintf(clause, sizeof(clause), "input %lld above the %lld held", (long long)c->input_tokens,
			 (long long)a->hold_input);
		say(out, clause);
		out->over_hold = 1;
	}
	int64_t n = a->choices > 0 ? a->choices : 1;
	if (a->route != GW_OPENAI_EMBEDDINGS && a->output_cap >= 0 && a->output_cap <= INT64_MAX / n &&
	    c->output_tokens > a->output_cap * n) {
		snprintf(clause, sizeof(clause), "output %lld above the cap of %lld sent (%lld choices)",
			 (long long)c->output_tokens, (long long)a->output_cap, (long long)n);
		say(out, clause);
		out->over_hold = 1;
	}
	assert(c->cached_input_tokens + c->cache_write_tokens <= c->input_tokens);
	assert(out->over_hold == (out->why[0] != '\0'));
}
