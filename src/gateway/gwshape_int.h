/* gwshape_int.h: what gwshape.c (requests, the upstream body, errors),
 * gwshape_usage.c (usage, streams, the estimate), gwshape_dims.c (usage
 * beyond tokens) and gwshape_bill.c (what is asked beyond tokens) share: counts that are held rather than
 * wrapped, and a string compared with its length. Only those files
 * include it. */
#ifndef CREDITD_GWSHAPE_INT_H
#define CREDITD_GWSHAPE_INT_H
#include "gwshape.h"
#include "limits.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* a + b for a, b >= 0, held at INT64_MAX rather than wrapped. */
static inline int64_t gwshape_add_held(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static inline int64_t gwshape_clamp_tokens(int64_t n)
{
	return n < 0 ? 0 : n > LIMIT_TOKENS_MAX ? LIMIT_TOKENS_MAX : n;
}

/* 1 when v is the string s exactly (a NUL inside v does not shorten it). */
static inline int gwshape_str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && json_string_length(v) == strlen(s) && strcmp(json_string_value(v), s) == 0;
}
/* A count at v: 1 and *out when v is an integer 0..LIMIT_TOKENS_MAX, 0
 * when v is absent or null, -1 when it is anything else. */
static inline int gwshape_count_of(const json_t *v, int64_t *out)
{
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	if (n < 0 || n > LIMIT_TOKENS_MAX)
		return -1;
	*out = (int64_t)n;
	return 1;
}

/* gwshape_dims.c's: what answer (the answer object, or NULL) and its
 * usage say beyond tokens, into u (a member absent leaves its figure);
 * and a stream's extras (response id, dimensions) carried from one usage
 * onto the one replacing it. */
void gwshape_read_dims(enum gw_route r, const json_t *answer, const json_t *usage, struct gw_usage *u);
void gwshape_keep_extras(struct gw_usage *to, const struct gw_usage *from);
/* gwshape_bill.c's: what root asks that is billed beyond tokens at the
 * standard price, into ask->unpriced (gwshape.h). */
void gwshape_read_billed(enum gw_route r, const json_t *root, struct gw_ask *ask);

#endif
