/* pricing_audio.h: the audio routes' money in the cost formula's raw
 * units (docs/gateway.md, "Audio and speech"): speech by its characters,
 * a transcription by its seconds, an audio file's seconds bounded by its
 * bytes at its format's lowest bitrate (limits_gateway.h
 * LIMIT_GATEWAY_AUDIO_BITRATES); an answer's duration is read in
 * milliseconds by the gateway (gwkind_audio_duration_ms). Raw units are micros × 10^6, what
 * "tokens × micros per million tokens" makes (pricing.h): a character at
 * micros per million characters and a millisecond at micros per 1,000
 * seconds are in them exactly, so nothing is rounded here; the cost
 * formula rounds the sum up once. Pure: no I/O, no floats, every
 * product in 128 bits. */
#ifndef CREDITD_PRICING_AUDIO_H
#define CREDITD_PRICING_AUDIO_H
#include "pricing.h"
#include <stdint.h>

/* The most milliseconds of audio a call is held or charged for: 10^12
 * (~31 years), past any file the providers take (25 MB) at any bitrate
 * of the table; a figure past it is no call's. */
#define PRICING_AUDIO_MS_MAX 1000000000000LL

/* n units (characters, milliseconds) at price micros per 10^6 of them
 * (or per 1,000 s for milliseconds) into *raw: n × price. PRICING_OK, or
 * PRICING_INVALID (n or price negative), PRICING_OVERFLOW past int64. */
enum pricing_status pricing_audio_raw(int64_t n, int64_t price, int64_t *raw);

/* The milliseconds bytes of audio hold at most at bits_per_second (its
 * format's lowest): bytes × 8,000 / bits_per_second, rounded up.
 * PRICING_OK; PRICING_INVALID (bytes negative, bits_per_second < 1);
 * PRICING_OVERFLOW past PRICING_AUDIO_MS_MAX. */
enum pricing_status pricing_audio_file_ms(int64_t bytes, int64_t bits_per_second, int64_t *ms);

/* The lowest bitrate of the audio format named by a file's extension
 * ("mp3", "wav", case-insensitive; LIMIT_GATEWAY_AUDIO_BITRATES), its
 * place in the table into *index: 1; 0 when the table has no such
 * format. */
int pricing_audio_format(const char *ext, int64_t *bits_per_second, int *index);
/* The table's i-th format's name and bitrate: 1, or 0 past the last. */
int pricing_audio_format_at(int i, const char **ext, int64_t *bits_per_second);

#endif
