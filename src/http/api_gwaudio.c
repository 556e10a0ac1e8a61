/* api_gwaudio.c: an audio call priced and its hold figured (api_gwaudio.h;
 * docs/gateway.md, "Audio and speech"), on the worker's thread, beside
 * api_gwhold.c's for the token routes: the model's row decides how the
 * call is priced — speech by its characters (tts-1) or by tokens, text in
 * and audio out (gpt-4o-mini-tts); a transcription by the audio's seconds
 * (whisper-1) or by tokens, audio in and text out (gpt-4o-transcribe) —
 * and what the request proves bounds it: the characters sent, the audio
 * file's bytes at its format's lowest bitrate, the model's
 * max_input_tokens. A row that prices none of it, or a bound that cannot
 * be proved, is refused before anything is held or forwarded. The
 * authorize is api_gwhold.c's (api_gw_hold). Never SQL, never FastCGI,
 * never curl. */
#include "api.h"
#include "api_gwaudio.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwmoney_audio.h"
#include "ledger.h"
#include "pricing.h"
#include "pricing_audio.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Speech's bound: its characters (at the per-character price), or its
 * text as input tokens (the body's bytes, gwshape's rule) and its audio
 * at LIMIT_GATEWAY_SPEECH_AUDIO_TOKENS_PER_CHAR a character. 0, or -1
 * with rs filled. */
static int speech_bound(struct gw_job *job, const struct price *p, int64_t *input, int64_t *output, struct response *rs)
{
	struct gw_ask *ask = &job->ask;
	if (ask->media_priced == GW_AUDIO_BY_CHARS) {
		if (ask->speech_instructions != NULL) {
			api_error(rs, CD_E_INVALID, "instructions", "\"instructions\" does not work with %s, which the provider "
				  "bills by the characters of \"input\": not forwarded", ask->model);
			return -1;
		}
		if (ask->stream) {
			api_error(rs, CD_E_INVALID, "stream_format", "\"stream_format\": \"sse\" is not served for %s, billed "
				  "by its characters: not forwarded", ask->model);
			return -1;
		}
		ask->media_bound = ask->speech_chars;
		*input = *output = 0;
		return 0;
	}
	*input = ask->input_bound;
	*output = ask->speech_chars * LIMIT_GATEWAY_SPEECH_AUDIO_TOKENS_PER_CHAR;	/* ≤ 4,096 × 20 */
	(void)p;
	return 0;
}

/* A transcription's bound: the file's bytes at its format's lowest
 * bitrate (by seconds), or the model's max_input_tokens of audio and its
 * max_output_tokens of text (by tokens). 0, or -1 with rs filled. */
static int transcription_bound(struct gw_job *job, const struct price *p, int64_t *input, int64_t *output,
			       struct response *rs)
{
	struct gw_ask *ask = &job->ask;
	const char *ext;
	int64_t bps = 0, most = 0;
	if (ask->media_priced == GW_AUDIO_BY_SECONDS) {
		if (ask->audio_format < 0 || !pricing_audio_format_at(ask->audio_format, &ext, &bps) ||
		    pricing_audio_file_ms(ask->audio_file_bytes, bps, &ask->media_bound) != PRICING_OK) {
			api_error(rs, CD_E_INVALID, "file", "the file's format is none whose lowest bitrate creditd knows "
				  "(flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm, by the file name's extension, which the file's "
				  "first bytes must bear out): its "
				  "length, which %s is billed by, cannot be bounded; not forwarded", ask->model);
			return -1;
		}
		*input = *output = 0;
		return 0;
	}
	if (!pricing_dim_get(p, PRICE_DIM_MAX_INPUT_TOKENS, &most)) {
		api_error(rs, CD_E_INVALID, "model", "%s is billed by its audio tokens, held at the model's max_input_tokens, "
			  "which its price row does not give: not forwarded", ask->model);
		return -1;
	}
	*input = most;
	*output = p->max_output_tokens;
	return 0;
}

/* A form is forwarded unchanged (docs/gateway.md, "Audio and speech"):
 * a provider that renames the model would need its field written again,
 * so a transcription that may reach one is refused, naming model. */
static int renamed(const struct gw_job *job, struct response *rs)
{
	for (int i = 0; gwkind_media(job->route) == GW_MEDIA_TRANSCRIPTION && i < job->nproviders; i++)
		if (strcmp(gwconfig_upstream_model(job->providers[i], job->ask.model), job->ask.model) != 0) {
			api_error(rs, CD_E_INVALID, "model", "[provider %s] sends '%s' under another name, which a "
				  "transcription's form, forwarded unchanged, cannot carry: not forwarded",
				  job->providers[i]->name, job->ask.model);
			return -1;
		}
	return 0;
}

/* The hold at the dearest of the providers the call may reach, each at
 * its own price for the model (docs/gateway.md, "Which price a call is
 * charged"): job->prices[i] filled, the settle charging the one that
 * answers. A provider's row that prices the call another way than the
 * model's general row is refused. 0, or -1 with rs filled. */
static int held_dearest(struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	const char *param = gwkind_media(job->route) == GW_MEDIA_SPEECH ? "input" : "file";
	int64_t dearest = -1, margin;
	for (int i = 0; i < job->nproviders; i++) {
		struct price *pi = &job->prices[i];
		struct guard_authorize c = *r;
		int own = 0;
		if (!ledger_price_model_at(job->ask.model, job->providers[i]->name, pi, &margin, &own) ||
		    gwmoney_audio_priced(job->route, pi) != job->ask.media_priced) {
			api_error(rs, CD_E_INVALID, "model", "%s's price at provider %s does not price what %s bills as "
				  "its general row does: not forwarded", job->ask.model, job->providers[i]->name,
				  job->route->path);
			return -1;
		}
		job->price_own[i] = (unsigned char)own;
		c.price = *pi;
		if (gwmoney_audio_hold(&job->ask, pi, &c.hold_price, &c.hold_fees_raw) != 0 ||
		    ledger_decide_hold_cost(&c, c.max_output_tokens, &c.amount_micros) != PRICING_OK ||
		    c.amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
			api_error(rs, CD_E_INVALID, param, "the call's worst case is above the %lld micros one "
				  "operation may move", (long long)LIMIT_AMOUNT_MICROS_MAX);
			return -1;
		}
		if (c.amount_micros > dearest) {
			dearest = c.amount_micros;
			r->hold_price = c.hold_price;
			r->hold_fees_raw = c.hold_fees_raw;
			r->amount_micros = c.amount_micros;
		}
	}
	assert(dearest >= 0);	/* a call has one provider at least */
	return 0;
}

int api_gwaudio_hold_of(struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct price p;
	int64_t margin, input = 0, output = 0;
	struct gw_ask *ask = &job->ask;
	int priced = ledger_price_model_wait(ask->model, &p, &margin);
	if (!priced && !job->byok) {
		api_error(rs, CD_E_INVALID, "model", "unknown model '%s': creditd holds and charges only priced models",
			  ask->model);
		return -1;
	}
	ask->media_priced = priced ? gwmoney_audio_priced(job->route, &p) : GW_AUDIO_NONE;
	if (ask->media_priced == GW_AUDIO_NONE && !job->byok) {
		api_error(rs, CD_E_INVALID, "model", "%s's price row prices none of what %s bills (%s): not forwarded",
			  ask->model, job->route->path, gwkind_media(job->route) == GW_MEDIA_SPEECH
			  ? "input_micros_per_mchar, or output_audio_micros_per_mtok"
			  : "input_micros_per_ksec, or input_audio_micros_per_mtok");
		return -1;
	}
	if (renamed(job, rs) != 0)
		return -1;
	if (ask->media_priced != GW_AUDIO_NONE &&
	    (gwkind_media(job->route) == GW_MEDIA_SPEECH ? speech_bound(job, &p, &input, &output, rs)
						  : transcription_bound(job, &p, &input, &output, rs)) != 0)
		return -1;
	/* Without usage a call by tokens is charged its hold (the estimate of
	 * a reasoning model's: its output held). */
	job->reasoning = ask->media_priced == GW_AUDIO_BY_TOKENS;
	job->hold_input = r->input_tokens = input;
	job->hold_output = r->max_output_tokens = output;
	r->min_output_tokens = -1;	/* no cap the provider reads: never shrunk */
	if (job->byok)
		return 0;
	r->margin_bps = job->margin = margin;
	r->priced = r->has_hold_price = 1;
	if (held_dearest(job, r, rs) != 0)
		return -1;
	r->price = job->price = job->prices[0];	/* pinned: the first provider's */
	return 0;
}
