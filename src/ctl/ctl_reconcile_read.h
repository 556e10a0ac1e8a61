/* ctl_reconcile_read.h: reading the providers' usage reports for
 * creditctl reconcile (docs/reconciliation.md): OpenAI's (its media
 * reports too) and Anthropic's admin usage report pages as their APIs
 * return them, or a CSV. Reads files and says
 * what is wrong on stderr (file, line or field named); never prints a
 * result and never touches the ledger. */
#ifndef CREDITD_CTL_RECONCILE_READ_H
#define CREDITD_CTL_RECONCILE_READ_H
#include "limits.h"
#include <stddef.h>
#include <stdint.h>

enum recon_format { RECON_GUESS = 0, RECON_OPENAI, RECON_ANTHROPIC, RECON_CSV };
enum recon_tier { RECON_TIER_STANDARD = 0, RECON_TIER_PRIORITY, RECON_TIER_FLEX, RECON_TIER_COUNT };
/* What a report gives beyond tokens: a figure it does not give is not
 * compared (OpenAI's usage report counts no web searches; a report not
 * grouped by service_tier or context_window says nothing of them). */
enum {
	RECON_REPORTS_1H = 1,		/* 1-hour cache writes */
	RECON_REPORTS_AUDIO = 2,
	RECON_REPORTS_SEARCHES = 4,
	RECON_REPORTS_TIER = 8,		/* grouped by service_tier */
	RECON_REPORTS_WINDOW = 16,	/* grouped by context_window */
	RECON_REPORTS_TOKENS = 32,	/* a report of tokens (the bits above are its) */
	/* OpenAI's media usage (docs/reconciliation.md, "Images, audio and
	 * speech"): audio_speeches' characters, audio_transcriptions'
	 * seconds, images' images. A row has them when any of its buckets
	 * came from that report; the token bits when every token bucket
	 * gives them (ctl_reconcile_read_reports_join). */
	RECON_REPORTS_SPEECH = 64,
	RECON_REPORTS_TRANSCRIPTION = 128,
	RECON_REPORTS_IMAGES = 256
};
enum { RECON_REPORTS_MEDIA = RECON_REPORTS_SPEECH | RECON_REPORTS_TRANSCRIPTION | RECON_REPORTS_IMAGES };
/* What a bucket is a report of: tokens, or one of OpenAI's media
 * usages (each its own bucket: a model may be in two reports). */
enum recon_media { RECON_MEDIA_NONE = 0, RECON_MEDIA_SPEECH, RECON_MEDIA_TRANSCRIPTION, RECON_MEDIA_IMAGES };

/* One day × model of the provider's report (one minute × model when
 * read by minutes, struct recon_buckets). input_tokens counts cached
 * and cache-write (Anthropic's cache-creation) tokens, OpenAI's
 * convention: cached + cache_write <= input. */
struct recon_bucket {
	int64_t day;				/* the UTC day's first second (a minute's, read by minutes) */
	char model[LIMIT_PROVIDER_MODEL_BYTES + 1];
	int64_t requests, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens;
	int has_requests;			/* the report counts requests */
	/* Beyond tokens (docs/gateway.md, "What is billed"): 1-hour cache writes (part of the
	 * writes), audio (parts of input and output), web searches; the
	 * service tier (RECON_TIER_*) and the long-context tier of a report
	 * grouped by them (else standard, 0). One day × model may come in a
	 * bucket per tier and context window. */
	int64_t cache_write_1h_tokens, audio_input_tokens, audio_output_tokens, web_search_calls;
	int tier;
	int long_context;
	unsigned int reports;			/* RECON_REPORTS_*: what the report gives */
	int media;				/* enum recon_media */
	int64_t speech_characters, transcription_seconds, images;	/* a media report's units */
	const char *path;			/* borrowed from argv: the file it came from */
};

/* Buckets of every file read, at most LIMIT_RECONCILE_ROWS. minutes,
 * set by the caller before reading, reads reports fetched with
 * bucket_width=1m (docs/reconciliation.md, "Unresolved holds"): a bucket
 * starts a minute and (where the page says its end) lasts one, a CSV
 * row's date is a minute (RFC 3339, "2026-11-27T12:01:00Z"); else a
 * bucket must start a UTC day, as ever. covered lists the start of every
 * bucket read by minutes, one with no results too (the provider's page
 * lists each minute of its range): what the report speaks for. */
struct recon_buckets {
	struct recon_bucket *v;
	size_t n, cap;
	int minutes;
	int64_t *covered;
	size_t ncovered, covcap;
	unsigned int formats;		/* 1 << each enum recon_format read */
};

/* Parses "YYYY-MM-DD" into its UTC midnight: 0, or -1. */
int ctl_reconcile_read_parse_day(const char *s, int64_t *day);
/* Reads one file in format (guessed from its content when RECON_GUESS)
 * and appends its buckets to b. 0, or -1 after saying what is wrong. */
int ctl_reconcile_read_read_file(const char *path, enum recon_format format, struct recon_buckets *b);
/* Parses an RFC 3339 time at the start of a UTC minute: 0, or -1. */
int ctl_reconcile_read_parse_minute(const char *s, int64_t *minute);
/* 1 when the files read by minutes hold a bucket starting at minute
 * (after ctl_reconcile_read_check_duplicates, which sorts them). */
int ctl_reconcile_read_covered(const struct recon_buckets *b, int64_t minute);
/* Sorts b by day, model, tier and context window and refuses one given
 * twice (both files named). 0, or -1 after saying so. */
int ctl_reconcile_read_check_duplicates(struct recon_buckets *b);
void ctl_reconcile_read_buckets_free(struct recon_buckets *b);
/* What two buckets of one row give together: the token bits both give
 * (those of the one report of tokens, when only one is), the media bits
 * either gives. 0 is the identity. */
unsigned int ctl_reconcile_read_reports_join(unsigned int a, unsigned int b);
#endif
