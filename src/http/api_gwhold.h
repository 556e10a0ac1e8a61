/* api_gwhold.h: what the gateway's handlers share: what api_gateway.c
 * takes from api_gwhold.c (a call's admission: its hold figured, a place
 * among max_streams, the hold authorized or a free call counted), and
 * what api_gwobjects.c (the object routes) takes from both (who pays and
 * the headers forwarded from api_gateway.c; a place, a free call counted
 * from api_gwhold.c). */
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
int api_gw_images_hold_of(struct gw_job *job, struct guard_authorize *r, struct response *rs);
/* 0 when the caller's key may call model, else -1 with rs 403
 * model_not_allowed naming param (as a call's own model is checked). */
int api_gw_model_allowed(const struct api_ctx *ctx, const char *model, const char *param, struct response *rs);
/* One line of a batch (docs/gateway.md, "Batches"): body (len bytes, a
 * NUL after them) checked as a call of route would be (the route's table
 * with the operator's free_fields, the key's models, the providers that
 * serve the model, every member priced) and its worst case at the row's
 * batch prices into *amount, its model into model (mcap bytes). Nothing
 * held or forwarded. 0, or -1 with rs filled (400 naming the member; a
 * model without batch prices: "model"). */
int api_gw_batch_line(struct api_ctx *ctx, const struct request *rq, const struct gwkind_route *route,
		      const char *body, size_t len, int64_t *amount, char *model, size_t mcap, struct response *rs);
/* A refusal of a member's call (job->member set) made fit for it: the
 * workspace's figures taken out (docs/gateway.md, "A member's refusals");
 * every gateway refusal of a hold goes through it. */
void api_gw_member_refusal(const struct gw_job *job, struct ledger_result *res);
/* The hold r authorized for job's payer under a new request id of the
 * gateway's, gw_<tag>_<random>, written to request_id (idcap bytes): 0
 * with *res (its body the caller's to free), or -1 with the refusal in
 * rs. Every hold the gateway takes goes through it. */
int api_gw_authorize(struct api_ctx *ctx, const struct gw_job *job, const char *tag, struct guard_authorize *r,
		     char *request_id, size_t idcap, struct ledger_result *res, struct response *rs);
/* Authorizes the hold of r; the granted output (a shrunk hold's) becomes
 * the cap sent. 0, or -1 with the refusal in rs. */
int api_gw_hold(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs);

/* Who pays (docs/gateway.md, "Who pays"): a bound key's account (and a
 * gateway key's member), else Creditd-Account (and Creditd-Member), into
 * job. 0, or -1 with rs filled. */
int api_gw_payer(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs);
/* The client's headers the job's kind forwards, each checked, into job. 0, or -1 with rs filled. */
int api_gw_forwarded(const struct request *rq, struct gw_job *job, struct response *rs);
/* A place among [gateway] max_streams within the key's, the account's and
 * the buffers' shares (job->place). 0, or -1 with rs filled (503, 429). */
int api_gw_admit(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs);
/* A free call counted against its account's (and member's) request
 * rates, the account checked active; nothing held. 0, or -1 with rs filled. */
int api_gw_count(struct api_ctx *ctx, struct gw_job *job, struct response *rs);
/* The call read and checked, admitted: its hold figured, a place among
 * max_streams, the hold authorized (a free call counted), the place given
 * back when refused. 0, or -1 with rs filled. */
int api_gw_admission(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs);
#endif
