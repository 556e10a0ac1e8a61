/* gwmoney_audio.h: the audio routes' money decision (docs/gateway.md,
 * "Audio and speech"), beside gwmoney.h's: what a speech or transcription
 * call holds beyond its tokens, and what its usage adds to the charge
 * (characters, seconds) in the cost formula's raw units. Pure: no I/O, no
 * globals; the products are src/money/pricing_audio.c's, unit-tested
 * there and in tests/unit/gateway/test_gwmoney_audio.c. */
#ifndef CREDITD_GWMONEY_AUDIO_H
#define CREDITD_GWMONEY_AUDIO_H
#include "gwkind.h"
#include "gwmoney.h"
#include "pricing.h"
#include <stdint.h>

/* How route r's call is priced at row p (GW_AUDIO_*): a speech row with
 * input_micros_per_mchar by characters, else with
 * output_audio_micros_per_mtok by tokens; a transcription row with
 * input_micros_per_ksec by seconds, else with input_audio_micros_per_mtok
 * by tokens; GW_AUDIO_NONE when the row prices none of what the route
 * bills (refused, param model). */
int gwmoney_audio_priced(const struct gwkind_route *r, const struct price *p);

/* The hold of an audio call that asked ask (media_priced and media_bound
 * set): *hold_price is p with each token at the dearest price the call
 * may be billed (speech's output at the audio output price, a
 * transcription's input at the audio input price), *fees_raw the
 * characters or milliseconds held at their price. 0, or -1 past int64. */
int gwmoney_audio_hold(const struct gw_ask *ask, const struct price *p, struct price *hold_price, int64_t *fees_raw);

/* The usage of an audio call as charged: speech's output is all audio,
 * a transcription's input audio unless said otherwise (an estimate's
 * figures included). */
void gwmoney_audio_usage(const struct gwkind_route *r, const struct gw_ask *ask, struct gw_usage *u);

/* u's characters and milliseconds at p's prices added to *extra_raw;
 * over_hold with why in *c when they pass what was held (media_bound), or
 * when p does not price them (charged nothing for them, flagged). */
enum pricing_status gwmoney_audio_extra(const struct gw_ask *ask, const struct price *p, const struct gw_usage *u,
					int64_t *extra_raw, struct gw_charge *c);
#endif
