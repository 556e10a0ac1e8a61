/* pricing_audio.c: the audio routes' money (pricing_audio.h; docs/gateway.md,
 * "Audio and speech"): characters and milliseconds at their prices in raw
 * units, the seconds an audio file can hold at its format's lowest
 * bitrate, an answer's duration in milliseconds. Pure, as pricing.c:
 * no I/O, every product in 128 bits. */
#include "pricing_audio.h"
#include "limits.h"

#include <stddef.h>

enum pricing_status pricing_audio_raw(int64_t n, int64_t price, int64_t *raw)
{
	if (n < 0 || price < 0)
		return PRICING_INVALID;
	__int128 x = (__int128)n * price;	/* each below 2^63: below 2^126 */
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	*raw = (int64_t)x;
	return PRICING_OK;
}

enum pricing_status pricing_audio_file_ms(int64_t bytes, int64_t bits_per_second, int64_t *ms)
{
	if (bytes < 0 || bits_per_second < 1)
		return PRICING_INVALID;
	__int128 bits = (__int128)bytes * 8000;	/* milliseconds × bits a second */
	__int128 x = (bits + bits_per_second - 1) / bits_per_second;
	if (x > PRICING_AUDIO_MS_MAX)
		return PRICING_OVERFLOW;
	*ms = (int64_t)x;
	return PRICING_OK;
}

#define BITRATE_ROW(name, bps) {name, bps},
static const struct {
	const char *ext;
	int64_t bps;
} formats[] = {LIMIT_GATEWAY_AUDIO_BITRATES(BITRATE_ROW)};
#undef BITRATE_ROW

/* a and b equal but for ASCII letters' case. */
static int same_name(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		if (x != *b)
			return 0;
	}
	return *a == *b;
}

int pricing_audio_format(const char *ext, int64_t *bits_per_second, int *index)
{
	for (size_t i = 0; ext != NULL && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (same_name(ext, formats[i].ext)) {
			*bits_per_second = formats[i].bps;
			*index = (int)i;
			return 1;
		}
	return 0;
}

int pricing_audio_format_at(int i, const char **ext, int64_t *bits_per_second)
{
	if (i < 0 || (size_t)i >= sizeof(formats) / sizeof(formats[0]))
		return 0;
	*ext = formats[i].ext;
	*bits_per_second = formats[i].bps;
	return 1;
}
