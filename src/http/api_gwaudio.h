/* api_gwaudio.h: what api_gateway.c takes from api_gwaudio.c: an audio
 * call's hold figured (docs/gateway.md, "Audio and speech"). */
#ifndef CREDITD_API_GWAUDIO_H
#define CREDITD_API_GWAUDIO_H
#include "api.h"
#include "gwjob.h"
#include "ledger.h"

/* The hold's figures of an audio call (speech, a transcription) into r
 * and job: the model's row, how it prices the route (characters, seconds
 * or tokens), the bound the request proves, its price. 0, or -1 with rs
 * filled (400 naming the member when the row prices none of what the
 * route bills, or the bound cannot be proved). */
int api_gwaudio_hold_of(struct gw_job *job, struct guard_authorize *r, struct response *rs);
#endif
