/* test_gwmoney_audio.c: the audio routes' money decision (docs/gateway.md,
 * "Audio and speech"; src/gateway/gwmoney_audio.c, gwkind_openai_audio.c):
 * how a row prices each route, the hold (characters, a file's seconds,
 * tokens at the audio prices), what a whole answer is charged (the
 * characters sent, a transcription's usage or duration, else the bound
 * held), and the charge to the micro, flagged beyond the hold. */
#include "gwkind.h"
#include "gwmoney_audio.h"
#include "gwshape.h"
#include "pricing.h"
#include "pricing_audio.h"
#include "tap.h"
#include <stdint.h>
#include <string.h>

#define R_SPEECH gwkind_route("/openai/v1/audio/speech")
#define R_MODERATIONS gwkind_route("/openai/v1/moderations")

/* The cost at margin m of usage u on a call that asked ask at p: tokens,
 * the dimensions and the audio units, rounded up once. */
static int64_t charged(const struct gwkind_route *r, const struct gw_ask *ask, const struct price *p, struct gw_usage u,
		       struct gw_charge *c)
{
	struct gw_asked a = {r, -1, 1, -1};
	int64_t cost = -1;
	gwmoney_audio_usage(r, ask, &u);
	gwmoney_charge(&a, &u, c);
	if (gwmoney_dims(ask, p, 0, &u, &c->extra_raw, c) != PRICING_OK ||
	    gwmoney_audio_extra(ask, p, &u, &c->extra_raw, c) != PRICING_OK)
		return -1;
	struct pricing_tokens t = {c->usage.input_tokens, c->usage.cached_input_tokens, c->usage.cache_write_tokens,
				   c->usage.output_tokens};
	return pricing_cost_with_extra(p, 10000, &t, c->extra_raw, &cost) == PRICING_OK ? cost : -2;
}

static void speech(void)
{
	char err[256];
	const char *param;
	struct gw_ask ask;
	struct gw_charge c;
	struct gw_usage u;
	struct price hp, tts = {0, 0, 0, 0, 0, PRICING_NO_DIMS}, mini = {600000, 0, 0, 2000, 0, PRICING_NO_DIMS};
	int64_t fees = -1;
	int held = -1;
	pricing_dim_put(&tts, PRICE_DIM_INPUT_CHAR, 15000000);
	pricing_dim_put(&mini, PRICE_DIM_OUTPUT_AUDIO, 12000000);
	ok(R_SPEECH != NULL && gwkind_media(R_SPEECH) == GW_MEDIA_SPEECH, "the speech route");
	is_int(gwmoney_audio_priced(R_SPEECH, &tts), GW_AUDIO_BY_CHARS, "tts-1: by characters");
	is_int(gwmoney_audio_priced(R_SPEECH, &mini), GW_AUDIO_BY_TOKENS, "gpt-4o-mini-tts: by tokens");
	struct price none = {2500000, 0, 10000000, 4096, 0, PRICING_NO_DIMS};
	is_int(gwmoney_audio_priced(R_SPEECH, &none), GW_AUDIO_NONE, "a row of text tokens alone: refused");
	/* "héllo, 世界" is 9 code points (13 bytes). */
	const char *body = "{\"model\":\"tts-1\",\"input\":\"h\\u00e9llo, \\u4e16\\u754c\",\"voice\":\"alloy\"}";
	is_int(gwshape_read(R_SPEECH, body, strlen(body), &ask, err, sizeof(err), &param), 0, "read: %s", err);
	is_int(ask.speech_chars, 9, "characters are code points");
	is_int(ask.stream, 0, "audio bytes, not a stream");
	ask.media_priced = GW_AUDIO_BY_CHARS;
	ask.media_bound = ask.speech_chars;
	is_int(gwmoney_audio_hold(&ask, &tts, &hp, &fees), 0, "held");
	is_int(fees, 9 * 15000000LL, "the characters at the per-character price");
	is_int(gwkind_audio_whole(R_SPEECH, &ask, "ID3\x03", 4, &u, &held), 0, "audio bytes: the characters sent");
	is_int(u.speech_chars, 9, "9 characters charged");
	is_int(held, 0, "what the provider bills, not an estimate");
	is_int(charged(R_SPEECH, &ask, &tts, u, &c), 135, "9 characters of tts-1: 135 micros");
	is_int(c.over_hold, 0, "as held");
	char big[5000 + 64];
	int n = snprintf(big, sizeof(big), "{\"model\":\"tts-1\",\"voice\":\"alloy\",\"input\":\"");
	memset(big + n, 'a', 4097);
	snprintf(big + n + 4097, sizeof(big) - (size_t)n - 4097, "\"}");
	is_int(gwshape_read(R_SPEECH, big, strlen(big), &ask, err, sizeof(err), &param), -1, "4,097 characters refused");
	is_str(param, "input", "naming input");
	/* gpt-4o-mini-tts streamed: its usage event's output is audio. */
	body = "{\"model\":\"gpt-4o-mini-tts\",\"input\":\"hi\",\"voice\":\"alloy\",\"stream_format\":\"sse\"}";
	is_int(gwshape_read(R_SPEECH, body, strlen(body), &ask, err, sizeof(err), &param), 0, "read: %s", err);
	is_int(ask.stream, 1, "stream_format sse: a stream");
	ask.media_priced = GW_AUDIO_BY_TOKENS;
	is_int(gwmoney_audio_hold(&ask, &mini, &hp, &fees), 0, "held by tokens");
	is_int(hp.output_micros_per_mtok, 12000000, "output held at the audio price");
	is_int(fees, 0, "no fee");
	memset(&u, 0, sizeof(u));
	u.have = 1;
	u.input_tokens = 14;
	u.output_tokens = 101;
	/* 14 × 0.6 + 101 × 12 = 8.4 + 1,212 micros per million... × 10^-6:
	 * (14 × 600,000 + 101 × 12,000,000) / 10^6 = 1,220.4 → 1,221. */
	is_int(charged(R_SPEECH, &ask, &mini, u, &c), 1221, "text in, audio out at its price: 1,221 micros");
	is_int(gwkind_audio_whole(R_SPEECH, &ask, "ID3", 3, &u, &held), -1, "by tokens, audio bytes: no usage");
}

static void durations(void)
{
	int64_t ms = -1;
	is_int(gwkind_audio_duration_ms(3.52, &ms), 0, "a duration read");
	is_int(ms, 3520, "3.52 s: 3,520 ms (its binary error is not a millisecond)");
	is_int(gwkind_audio_duration_ms(3.5201, &ms), 0, "a part of a millisecond");
	is_int(ms, 3521, "rounded up");
	is_int(gwkind_audio_duration_ms(0, &ms), 0, "no audio");
	is_int(ms, 0, "0 ms");
	is_int(gwkind_audio_duration_ms(-0.5, &ms), -1, "a negative duration refused");
	is_int(gwkind_audio_duration_ms(1e300, &ms), -1, "past the most refused");
}

static void moderations(void)
{
	char err[256];
	const char *param;
	struct gw_ask ask;
	const char *body = "{\"input\":\"text\"}";
	ok(R_MODERATIONS != NULL && R_MODERATIONS->free, "moderations: a free route");
	is_int(gwshape_read(R_MODERATIONS, body, strlen(body), &ask, err, sizeof(err), &param), 0, "read: %s", err);
	is_str(ask.model, "omni-moderation-latest", "no model: the provider's default");
	body = "{\"input\":\"text\",\"model\":\"text-moderation-latest\"}";
	is_int(gwshape_read(R_MODERATIONS, body, strlen(body), &ask, err, sizeof(err), &param), 0, "read: %s", err);
	is_str(ask.model, "text-moderation-latest", "the model named");
}

/* A transcription's form (as openai-node writes one) and its answers. */
static void transcription(void)
{
	const struct gwkind_route *r = gwkind_route("/openai/v1/audio/transcriptions");
	const char *ct = "multipart/form-data; boundary=XyZ";
	char body[512], err[256];
	const char *param;
	struct gw_ask ask;
	struct gw_usage u;
	int held = -1;
	int n = snprintf(body, sizeof(body), "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
			 "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talk.MP3\"\r\n"
			 "Content-Type: audio/mpeg\r\n\r\nID3456789\r\n--XyZ--\r\n");
	ok(r != NULL && gwkind_media(r) == GW_MEDIA_TRANSCRIPTION, "the transcription route");
	is_int(gwkind_audio_read_form(r, ct, body, (size_t)n, &ask, err, sizeof(err), &param), 0, "read: %s", err);
	is_str(ask.model, "whisper-1", "its model");
	is_int(ask.audio_file_bytes, 9, "its file's bytes");
	int64_t bps = 0;
	const char *ext = NULL;
	ok(pricing_audio_format_at(ask.audio_format, &ext, &bps) && strcmp(ext, "mp3") == 0, "its format by its name");
	json_t *o = gwkind_audio_form_json(ct, body, (size_t)n);
	ok(json_is_string(json_object_get(o, "file")) && json_is_string(json_object_get(o, "model")), "as the SDK's object");
	json_decref(o);
	is_int(gwkind_audio_read_form(r, "application/json", body, (size_t)n, &ask, err, sizeof(err), &param), -1,
	       "not a form: refused");
	n = snprintf(body, sizeof(body), "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
		     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n0123\r\n--XyZ--\r\n");
	is_int(gwkind_audio_read_form(r, ct, body, (size_t)n, &ask, err, sizeof(err), &param), -1, "a file without a name");
	is_str(param, "file", "naming file");
	/* Its answers: a duration reported, else the bound; tokens by tokens. */
	memset(&ask, 0, sizeof(ask));
	ask.media_priced = GW_AUDIO_BY_SECONDS;
	ask.media_bound = 48000;
	const char *verbose = "{\"text\":\"hi\",\"duration\":3.52}";
	is_int(gwkind_audio_whole(r, &ask, verbose, strlen(verbose), &u, &held), 0, "verbose_json");
	ok(u.audio_ms == 3520 && held == 0, "its duration: %lld ms", (long long)u.audio_ms);
	const char *json = "{\"text\":\"hi\",\"usage\":{\"type\":\"duration\",\"seconds\":4}}";
	is_int(gwkind_audio_whole(r, &ask, json, strlen(json), &u, &held), 0, "json");
	ok(u.audio_ms == 4000 && held == 0, "its usage's seconds: %lld ms", (long long)u.audio_ms);
	is_int(gwkind_audio_whole(r, &ask, "hi\n", 3, &u, &held), 0, "text");
	ok(u.audio_ms == 48000 && held == 1, "the bound held, said so");
	ask.media_priced = GW_AUDIO_BY_TOKENS;
	const char *tokens = "{\"text\":\"hi\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":32,\"input_token_details\":"
			     "{\"audio_tokens\":30,\"text_tokens\":2},\"output_tokens\":5,\"total_tokens\":37}}";
	is_int(gwkind_audio_whole(r, &ask, tokens, strlen(tokens), &u, &held), 0, "tokens");
	ok(u.input_tokens == 32 && u.audio_input_tokens == 30 && u.output_tokens == 5 && held == 0, "its usage read");
	is_int(gwkind_audio_whole(r, &ask, "hi\n", 3, &u, &held), -1, "text by tokens: the hold (the caller's)");
	/* A total above its parts: the rest is output (docs/gateway.md, "The estimate"). */
	const char *total = "{\"usage\":{\"type\":\"tokens\",\"input_tokens\":10,\"output_tokens\":5,\"total_tokens\":20}}";
	is_int(gwkind_audio_whole(r, &ask, total, strlen(total), &u, &held), 0, "a total above its parts");
	ok(u.output_tokens == 10 && u.audio_input_tokens == 10, "the rest output, the input all audio");
}

int main(void)
{
	speech();
	transcription();
	durations();
	moderations();
	return done_testing();
}
