/* gwshape_int.h: what gwshape.c (requests, the upstream body, errors),
 * gwshape_usage.c (SSE framing, usage, streams, the estimate) and
 * gwshape_bill.c (what is asked beyond tokens) share beyond what every
 * kind uses (gwkind_int.h). Only those files include it. */
#ifndef CREDITD_GWSHAPE_INT_H
#define CREDITD_GWSHAPE_INT_H
#include "gwshape.h"
#include "gwkind_int.h"

#include <jansson.h>

/* gwshape_bill.c's: what root asks that is billed beyond tokens at the
 * standard price, into ask->unpriced (gwshape.h). */
void gwshape_read_billed(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask);

#endif
