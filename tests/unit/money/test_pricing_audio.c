/* test_pricing_audio.c: the audio routes' money (src/money/pricing_audio.c,
 * docs/gateway.md "Audio and speech"), each to the micro through the cost
 * formula: tts-1's characters, whisper-1's milliseconds, a file's bound
 * at its format's lowest bitrate, and every figure past int64 refused
 * rather than wrapped. */
#include "pricing.h"
#include "pricing_audio.h"
#include "limits.h"
#include "tap.h"
#include <stdint.h>
#include <string.h>

/* The cost of raw at margin m (basis points), nothing else in it. */
static int64_t cost_of(int64_t raw, int64_t m)
{
	struct price p = {0, 0, 0, 0, 0, PRICING_NO_DIMS};
	struct pricing_tokens t = {0, 0, 0, 0};
	int64_t cost = -1;
	if (pricing_cost_with_extra(&p, m, &t, raw, &cost) != PRICING_OK)
		return -1;
	return cost;
}

static void characters(void)
{
	int64_t raw = -1;
	/* tts-1: 15 USD per million characters, 15,000,000 micros. 4,096
	 * characters are 61,440 micros; at a 20 % margin 73,728. */
	is_int(pricing_audio_raw(4096, 15000000, &raw), PRICING_OK, "characters priced");
	is_int(raw, 4096LL * 15000000, "raw: characters × micros per million");
	is_int(cost_of(raw, 10000), 61440, "4,096 characters of tts-1: 61,440 micros");
	is_int(cost_of(raw, 12000), 73728, "with a 20 %% margin: 73,728");
	/* One character of tts-1 is 15 micros; of a price not a multiple of
	 * 10^6, rounded up once (7 characters at 1,000,001: 7.000007 → 8). */
	is_int(pricing_audio_raw(1, 15000000, &raw), PRICING_OK, "one character");
	is_int(cost_of(raw, 10000), 15, "15 micros");
	is_int(pricing_audio_raw(7, 1000001, &raw), PRICING_OK, "seven characters");
	is_int(cost_of(raw, 10000), 8, "rounded up once: 8");
	is_int(pricing_audio_raw(0, 15000000, &raw), PRICING_OK, "none");
	is_int(raw, 0, "none cost nothing");
	is_int(pricing_audio_raw(-1, 15000000, &raw), PRICING_INVALID, "a negative count refused");
	is_int(pricing_audio_raw(1, -1, &raw), PRICING_INVALID, "a negative price refused");
	is_int(pricing_audio_raw(INT64_MAX, 2, &raw), PRICING_OVERFLOW, "past int64: overflow, not a wrap");
	is_int(pricing_audio_raw(INT64_MAX, 1, &raw), PRICING_OK, "int64's most fits");
}

static void seconds(void)
{
	int64_t ms = -1, raw = -1;
	/* whisper-1: 0.006 USD a minute, 0.0001 a second: 100,000 micros
	 * per 1,000 s. 3.52 s is 3,520 ms: 352 micros. */
	ms = 3520;
	is_int(pricing_audio_raw(ms, 100000, &raw), PRICING_OK, "milliseconds priced");
	is_int(cost_of(raw, 10000), 352, "3.52 s of whisper-1: 352 micros");
	/* 1 ms at 100,000 micros per 1,000 s is 0.1 micro: 1 micro. */
	is_int(pricing_audio_raw(1, 100000, &raw), PRICING_OK, "one millisecond");
	is_int(cost_of(raw, 10000), 1, "rounded up: 1 micro");
}

static void files(void)
{
	int64_t bps = 0, ms = -1;
	int i = -1;
	const char *ext;
	/* 1,000,000 bytes of mp3 at 8 kbit/s: 8,000,000 bits, 1,000 s. */
	ok(pricing_audio_format("mp3", &bps, &i), "mp3 is in the table");
	is_int(bps, 8000, "mp3's lowest: 8 kbit/s");
	is_int(pricing_audio_file_ms(1000000, bps, &ms), PRICING_OK, "an mp3's bound");
	is_int(ms, 1000000, "1,000,000 bytes of mp3: at most 1,000 s");
	ok(pricing_audio_format("WAV", &bps, &i), "a format's name in any case");
	is_int(bps, 5300, "wav's lowest: 5.3 kbit/s");
	is_int(pricing_audio_file_ms(1, 5300, &ms), PRICING_OK, "one byte");
	is_int(ms, 2, "8,000 / 5,300 ms, rounded up: 2");
	ok(!pricing_audio_format("aiff", &bps, &i), "a format not in the table is none");
	ok(!pricing_audio_format(NULL, &bps, &i), "no format is none");
	int n = 0;
	while (pricing_audio_format_at(n, &ext, &bps)) {
		int64_t again = 0;
		int j = -1;
		ok(bps > 0 && pricing_audio_format(ext, &again, &j) && again == bps && j == n, "%s: %lld bit/s", ext,
		   (long long)bps);
		n++;
	}
	is_int(n, 9, "flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm");
	/* 25 MB of flac at its 140 bit/s: the bound fits, as milliseconds. */
	is_int(pricing_audio_file_ms(25 * 1024 * 1024, 140, &ms), PRICING_OK, "the largest file's bound");
	is_int(ms, (25LL * 1024 * 1024 * 8000 + 139) / 140, "25 MiB of flac's milliseconds");
	is_int(pricing_audio_file_ms(INT64_MAX, 1, &ms), PRICING_OVERFLOW, "past the most: overflow");
	is_int(pricing_audio_file_ms(-1, 8000, &ms), PRICING_INVALID, "negative bytes refused");
	is_int(pricing_audio_file_ms(1, 0, &ms), PRICING_INVALID, "no bitrate refused");
}

int main(void)
{
	characters();
	seconds();
	files();
	return done_testing();
}
