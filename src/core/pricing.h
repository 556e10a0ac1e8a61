/* pricing.h: the money math of creditd, as pure functions.
 *
 * Owns: the token cost formula of DESIGN §3 and the parsing of price-list
 * rows. Never does I/O, never touches floats: every amount is int64 micros
 * and every intermediate that can grow is computed in 128 bits, so that a
 * cost that does not fit in int64 is reported, never wrapped. */
#ifndef CREDITD_PRICING_H
#define CREDITD_PRICING_H
#include <stdint.h>
#include <stddef.h>

/* Prices of one model, in micros per one million tokens. */
struct price {
	int64_t input_micros_per_mtok;
	int64_t cached_input_micros_per_mtok;
	int64_t output_micros_per_mtok;
	int64_t max_output_tokens;	/* the hold's default output size */
	/* Input written to the provider's prompt cache (DESIGN §12). Always
	 * a price here: a model listed without one has its input price, put
	 * in by whoever reads the list (pricing_parse_row, the ledger). Last,
	 * so that an initializer of the four fields before leaves it 0. */
	int64_t cache_write_micros_per_mtok;
};

enum pricing_status {
	PRICING_OK = 0,		/* *cost_micros holds the answer */
	PRICING_INVALID,	/* a negative count or price, or cached + cache_write > input */
	PRICING_OVERFLOW	/* the exact cost does not fit in int64 */
};

/* The tokens of one call. input_tokens counts every input token: the
 * cached ones (read from the provider's prompt cache) and the cache-write
 * ones (written to it) too, so cached + cache_write <= input. */
struct pricing_tokens {
	int64_t input_tokens;
	int64_t cached_input_tokens;
	int64_t cache_write_input_tokens;
	int64_t output_tokens;
};

/* cost = ceil(((in - cached - cache_write)*p_in + cached*p_cached
 *              + cache_write*p_cache_write + out*p_out) * margin_bps
 *             / (10^6 * 10^4)), rounded up once, in 128 bits. Writes
 * *cost_micros only on PRICING_OK. */
enum pricing_status pricing_token_cost(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
				       int64_t *cost_micros);

/* The token field a charge too large is blamed on (DESIGN §10): the
 * output's when its term, out*p_out, is at least the input's (uncached,
 * cached and cache-write together), else "input_tokens". out_field is
 * the caller's name for the output ("output_tokens", or
 * "max_output_tokens" for a hold, whose output_tokens is that). */
const char *pricing_blame(const struct price *p, const struct pricing_tokens *t, const char *out_field);

/* One parsed row of a price-list CSV file (see pricing_parse_row). */
enum price_row_kind { PRICE_ROW_SKIP = 0, PRICE_ROW_MODEL, PRICE_ROW_ACTION, PRICE_ROW_MARGIN };
#define PRICING_NAME_MAX 64
struct price_row {
	enum price_row_kind kind;
	char name[PRICING_NAME_MAX + 1];	/* model or action name */
	struct price price;			/* PRICE_ROW_MODEL */
	int64_t price_micros;			/* PRICE_ROW_ACTION */
	int64_t margin_bps;			/* PRICE_ROW_MARGIN */
};

/* Parses one line of the price-list format (documented in docs/creditctl.md):
 *   model,NAME,INPUT,CACHED_INPUT,OUTPUT,MAX_OUTPUT_TOKENS[,CACHE_WRITE]
 *   action,NAME,PRICE_MICROS
 *   margin,BPS
 * Amounts are integer micros per 1M tokens; a model row without
 * CACHE_WRITE (every row before it existed) has its INPUT as the
 * cache-write price. Blank lines and lines starting
 * with '#' give PRICE_ROW_SKIP. The line may end in "\n" or "\r\n".
 * Returns 0 on success; -1 with a sentence in errbuf otherwise. */
int pricing_parse_row(const char *line, struct price_row *row, char *errbuf, size_t errcap);

/* A decimal number as text ("2.5e-06", "0.000003", "3") times 10^shift,
 * exactly: 0 and *out when the result is a whole number from 0 to
 * INT64_MAX, else -1 (negative, finer than that, too large, not a
 * number). Per-token prices in currency units become micros per million
 * tokens with shift 12. */
int pricing_decimal_scaled(const char *text, int shift, int64_t *out);

/* A price change's rise beyond max_pct percent: 1 when one of input,
 * cached input, output or cache write rises by more than max_pct % of
 * what it was (integer math), with the first such field, its old and new
 * values in *field, *old_v, *new_v; 0 when none does. */
int pricing_rise_above(const struct price *was, const struct price *now, int64_t max_pct, const char **field,
		       int64_t *old_v, int64_t *new_v);
#endif
