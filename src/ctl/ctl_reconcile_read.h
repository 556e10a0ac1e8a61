/* ctl_reconcile_read.h: reading the providers' usage reports for
 * creditctl reconcile (DESIGN §10): OpenAI's and Anthropic's admin usage
 * report pages as their APIs return them, or a CSV. Reads files and says
 * what is wrong on stderr (file, line or field named); never prints a
 * result and never touches the ledger. */
#ifndef CREDITD_CTL_RECONCILE_READ_H
#define CREDITD_CTL_RECONCILE_READ_H
#include "limits.h"
#include <stddef.h>
#include <stdint.h>

enum recon_format { RECON_GUESS = 0, RECON_OPENAI, RECON_ANTHROPIC, RECON_CSV };

/* One day × model of the provider's report. input_tokens counts cached
 * and cache-write (Anthropic's cache-creation) tokens, OpenAI's
 * convention: cached + cache_write <= input. */
struct recon_bucket {
	int64_t day;				/* the UTC day's first second */
	char model[LIMIT_PROVIDER_MODEL_BYTES + 1];
	int64_t requests, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens;
	int has_requests;			/* the report counts requests */
	const char *path;			/* borrowed from argv: the file it came from */
};

/* Buckets of every file read, at most LIMIT_RECONCILE_ROWS. */
struct recon_buckets {
	struct recon_bucket *v;
	size_t n, cap;
};

/* Parses "YYYY-MM-DD" into its UTC midnight: 0, or -1. */
int ctl_recon_parse_day(const char *s, int64_t *day);
/* Reads one file in format (guessed from its content when RECON_GUESS)
 * and appends its buckets to b. 0, or -1 after saying what is wrong. */
int ctl_recon_read_file(const char *path, enum recon_format format, struct recon_buckets *b);
/* Sorts b by day and model and refuses a day × model given twice (both
 * files named). 0, or -1 after saying so. */
int ctl_recon_check_duplicates(struct recon_buckets *b);
void ctl_recon_buckets_free(struct recon_buckets *b);
#endif
