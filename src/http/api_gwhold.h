/* api_gwhold.h: what api_gateway.c takes from api_gwhold.c: a call's
 * hold figured, then authorized. */
#ifndef CREDITD_API_GWHOLD_H
#define CREDITD_API_GWHOLD_H
#include "api.h"
#include "gwjob.h"
#include "ledger.h"

/* The hold's figures into r and job: the model priced (its multiples,
 * stored input, documents, long context), the input bound, the output
 * asked (the body's cap, else the model's), the fees. 0, or -1 with rs
 * filled. */
int api_gw_hold_of(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs);
/* An image route's hold figured (api_gwimages.c; docs/gateway.md,
 * "Images"): n images at the dearest size and quality asked, at the rows
 * that price them. 0, or -1 with rs filled. */
int api_gw_images_hold_of(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs);
/* Authorizes the hold of r; the granted output (a shrunk hold's) becomes
 * the cap sent. 0, or -1 with the refusal in rs. */
int api_gw_hold(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs);
#endif
