/* ctl_reconcile_read.c: the providers' usage reports (see
 * ctl_reconcile_read.h). Every number is checked to be a whole count of
 * 0 or more and every day a UTC day's first second (read by minutes, a
 * minute's, and a bucket one minute long); the first thing wrong
 * is named by file and line (CSV, RFC 4180) or by its path in the page
 * (JSON). */
#include "ctl_reconcile_read.h"
#include "dynbuf.h"
#include "timefmt.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_reconcile_read_parse_day(const char *s, int64_t *day)
{
	int64_t t;
	if (strlen(s) != 10 || timefmt_parse(s, &t) != 0 || t % TIMEFMT_SECONDS_PER_DAY != 0)
		return -1;
	*day = t;
	return 0;
}

int ctl_reconcile_read_parse_minute(const char *s, int64_t *minute)
{
	int64_t t;
	if (strlen(s) <= 10 || timefmt_parse(s, &t) != 0 || t < 0 || t % 60 != 0)
		return -1;
	*minute = t;
	return 0;
}

/* Notes that the files speak for the minute starting at t. 0, or -1. */
static int cover(struct recon_buckets *b, const char *path, int64_t t)
{
	if (!b->minutes)
		return 0;
	if (b->ncovered == b->covcap) {
		size_t cap = b->covcap ? 2 * b->covcap : 256;
		int64_t *bigger = cap <= LIMIT_RECONCILE_ROWS ? realloc(b->covered, cap * sizeof(*bigger)) : NULL;
		if (bigger == NULL) {
			fprintf(stderr, "creditctl: %s: more than %d minutes, or out of memory\n", path, LIMIT_RECONCILE_ROWS / 2);
			return -1;
		}
		b->covered = bigger;
		b->covcap = cap;
	}
	b->covered[b->ncovered++] = t;
	return 0;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int ctl_reconcile_read_covered(const struct recon_buckets *b, int64_t minute)
{
	return b->ncovered > 0 && bsearch(&minute, b->covered, b->ncovered, sizeof(minute), i64_cmp) != NULL;
}

static struct recon_bucket *bucket_next(struct recon_buckets *b, const char *path)
{
	if (b->n == LIMIT_RECONCILE_ROWS) {
		fprintf(stderr, "creditctl: %s: more than %d day × model buckets in all; reconcile a shorter period\n",
			path, LIMIT_RECONCILE_ROWS);
		return NULL;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct recon_bucket *bigger = realloc(b->v, cap * sizeof(*bigger));
		if (bigger == NULL) {
			fprintf(stderr, "creditctl: %s: out of memory\n", path);
			return NULL;
		}
		b->v = bigger;
		b->cap = cap;
	}
	memset(&b->v[b->n], 0, sizeof(b->v[0]));
	b->v[b->n].path = path;
	return &b->v[b->n];
}

/* A provider's model name: 1 to LIMIT_PROVIDER_MODEL_BYTES of UTF-8
 * (jansson's json_string refuses anything else: a CSV file's bytes are
 * not checked by a JSON reader, and the name is stored, reconcile_drift). */
static int model_ok(const char *m)
{
	size_t len = m != NULL ? strlen(m) : 0;
	if (len < 1 || len > LIMIT_PROVIDER_MODEL_BYTES || strpbrk(m, ",\"\r\n") != NULL)
		return 0;
	json_t *probe = json_string(m);
	int ok = probe != NULL;
	json_decref(probe);
	return ok;
}

/* ---- JSON pages ---- */

/* A count at key of obj (path names it for the error): 0 or -1. A missing
 * key is 0 only when optional. */
static int json_count(const char *file, const char *where, json_t *obj, const char *key, int optional, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL && optional) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > LIMIT_RECONCILE_COUNT_MAX) {
		fprintf(stderr, "creditctl: %s: %s.%s: %s\n", file, where, key,
			v == NULL ? "missing" : "not a whole number from 0 to 10^15");
		return -1;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* A result's service_tier (a report grouped by it): "priority" (and
 * Anthropic's "priority_on_demand"), "flex" (and "flex_discount"); any
 * other, absent or null, the standard tier. */
static int tier_of(json_t *r)
{
	const char *t = json_string_value(json_object_get(r, "service_tier"));
	if (t == NULL)
		return RECON_TIER_STANDARD;
	if (strncmp(t, "priority", 8) == 0)
		return RECON_TIER_PRIORITY;
	return strncmp(t, "flex", 4) == 0 ? RECON_TIER_FLEX : RECON_TIER_STANDARD;
}

/* One of OpenAI's media usage results (docs/reconciliation.md, "Images,
 * audio and speech"; the organization usage API's audio_speeches,
 * audio_transcriptions and images endpoints): its requests and units,
 * no tokens. 1 when r is one (0 read, -1 wrong), 0 when it is not. */
static int openai_media(const char *file, const char *where, json_t *r, struct recon_bucket *k)
{
	static const struct {
		const char *object, *units;
		int media;
		unsigned int reports;
	} kinds[] = {
		{"organization.usage.audio_speeches.result", "characters", RECON_MEDIA_SPEECH, RECON_REPORTS_SPEECH},
		{"organization.usage.audio_transcriptions.result", "seconds", RECON_MEDIA_TRANSCRIPTION,
		 RECON_REPORTS_TRANSCRIPTION},
		{"organization.usage.images.result", "images", RECON_MEDIA_IMAGES, RECON_REPORTS_IMAGES}};
	const char *object = json_string_value(json_object_get(r, "object"));
	for (size_t i = 0; object != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(object, kinds[i].object) != 0)
			continue;
		int64_t *units[] = {&k->speech_characters, &k->transcription_seconds, &k->images};
		if (json_count(file, where, r, "num_model_requests", 0, &k->requests) != 0 ||
		    json_count(file, where, r, kinds[i].units, 0, units[kinds[i].media - 1]) != 0)
			return -1;
		k->media = kinds[i].media;
		k->reports = kinds[i].reports;
		k->has_requests = 1;
		return 1;
	}
	return 0;
}

static int openai_result(const char *file, const char *where, json_t *r, struct recon_bucket *k)
{
	int media = openai_media(file, where, r, k);
	if (media != 0)
		return media < 0 ? -1 : 0;
	if (json_count(file, where, r, "input_tokens", 0, &k->input_tokens) != 0 ||
	    json_count(file, where, r, "input_cached_tokens", 0, &k->cached_input_tokens) != 0 ||
	    json_count(file, where, r, "output_tokens", 0, &k->output_tokens) != 0 ||
	    json_count(file, where, r, "num_model_requests", 0, &k->requests) != 0 ||
	    json_count(file, where, r, "input_audio_tokens", 1, &k->audio_input_tokens) != 0 ||
	    json_count(file, where, r, "output_audio_tokens", 1, &k->audio_output_tokens) != 0)
		return -1;
	k->tier = tier_of(r);
	k->reports = RECON_REPORTS_TOKENS | RECON_REPORTS_AUDIO |
		     (json_object_get(r, "service_tier") != NULL ? RECON_REPORTS_TIER : 0);
	if (k->audio_input_tokens > k->input_tokens || k->audio_output_tokens > k->output_tokens) {
		fprintf(stderr, "creditctl: %s: %s: audio tokens above the input or output tokens (which count them)\n",
			file, where);
		return -1;
	}
	k->has_requests = 1;
	if (k->cached_input_tokens > k->input_tokens) {
		fprintf(stderr, "creditctl: %s: %s.input_cached_tokens: above input_tokens (which counts them)\n", file,
			where);
		return -1;
	}
	return 0;
}

static int anthropic_result(const char *file, const char *where, json_t *r, struct recon_bucket *k)
{
	int64_t uncached, read, c1h = 0, c5m = 0;
	json_t *cc = json_object_get(r, "cache_creation");
	char sub[128];
	snprintf(sub, sizeof(sub), "%s.cache_creation", where);
	if (json_count(file, where, r, "uncached_input_tokens", 0, &uncached) != 0 ||
	    json_count(file, where, r, "cache_read_input_tokens", 0, &read) != 0 ||
	    json_count(file, where, r, "output_tokens", 0, &k->output_tokens) != 0)
		return -1;
	if (cc != NULL && !json_is_null(cc) &&
	    (!json_is_object(cc) || json_count(file, sub, cc, "ephemeral_1h_input_tokens", 1, &c1h) != 0 ||
	     json_count(file, sub, cc, "ephemeral_5m_input_tokens", 1, &c5m) != 0)) {
		if (!json_is_object(cc))
			fprintf(stderr, "creditctl: %s: %s: not an object\n", file, sub);
		return -1;
	}
	if (uncached > INT64_MAX / 4 || read > INT64_MAX / 4 || c1h > INT64_MAX / 4 || c5m > INT64_MAX / 4) {
		fprintf(stderr, "creditctl: %s: %s: token counts too large\n", file, where);
		return -1;
	}
	/* Writing the cache is input too, priced at the cache-write price
	 * (docs/api.md, "Costs"). */
	k->input_tokens = uncached + read + c1h + c5m;
	k->cached_input_tokens = read;
	k->cache_write_input_tokens = c1h + c5m;
	k->cache_write_1h_tokens = c1h;
	json_t *tools = json_object_get(r, "server_tool_use");
	snprintf(sub, sizeof(sub), "%s.server_tool_use", where);
	if (tools != NULL && !json_is_null(tools) &&
	    (!json_is_object(tools) || json_count(file, sub, tools, "web_search_requests", 1, &k->web_search_calls) != 0)) {
		if (!json_is_object(tools))
			fprintf(stderr, "creditctl: %s: %s: not an object\n", file, sub);
		return -1;
	}
	k->tier = tier_of(r);
	/* A report grouped by context_window: "200k-1M" is the long-context
	 * tier. */
	const char *window = json_string_value(json_object_get(r, "context_window"));
	k->long_context = window != NULL && strcmp(window, "0-200k") != 0;
	k->reports = RECON_REPORTS_TOKENS | RECON_REPORTS_1H | RECON_REPORTS_SEARCHES |
		     (json_object_get(r, "service_tier") != NULL ? RECON_REPORTS_TIER : 0) |
		     (json_object_get(r, "context_window") != NULL ? RECON_REPORTS_WINDOW : 0);
	return 0;
}

/* A bucket's end (OpenAI's end_time, Anthropic's ending_at) when the
 * page gives it: read by minutes, one minute after its start (a page
 * fetched with bucket_width=1h starts at minutes too). 0, or -1 said. */
static int bucket_width_ok(const char *file, size_t i, json_t *bucket, enum recon_format f, int64_t start)
{
	const char *key = f == RECON_OPENAI ? "end_time" : "ending_at";
	json_t *v = json_object_get(bucket, key);
	int64_t t = -1;
	if (v == NULL)
		return 0;
	if (f == RECON_OPENAI && json_is_integer(v))
		t = (int64_t)json_integer_value(v);
	else if (f == RECON_ANTHROPIC && json_is_string(v) && timefmt_parse(json_string_value(v), &t) != 0)
		t = -1;
	if (t != start + 60) {
		fprintf(stderr, "creditctl: %s: data[%zu].%s: not one minute after its start (fetch with bucket_width=1m)\n",
			file, i, key);
		return -1;
	}
	return 0;
}

/* The bucket's day: OpenAI's start_time in unix seconds, Anthropic's
 * starting_at in RFC 3339; either must start a UTC day (bucket_width=1d),
 * or read by minutes a minute (bucket_width=1m). */
static int bucket_day(const char *file, size_t i, json_t *bucket, enum recon_format f, int minutes, int64_t *day)
{
	const char *key = f == RECON_OPENAI ? "start_time" : "starting_at";
	json_t *v = json_object_get(bucket, key);
	int64_t t = -1, unit = minutes ? 60 : TIMEFMT_SECONDS_PER_DAY;
	if (f == RECON_OPENAI && json_is_integer(v))
		t = (int64_t)json_integer_value(v);
	else if (f == RECON_ANTHROPIC && json_is_string(v) && timefmt_parse(json_string_value(v), &t) != 0)
		t = -1;
	if (t < 0 || t % unit != 0) {
		fprintf(stderr, "creditctl: %s: data[%zu].%s: %s\n", file, i, key,
			v == NULL ? "missing" : t < 0 ? (f == RECON_OPENAI ? "not unix seconds" : "not an RFC 3339 time")
			: minutes ? "not the start of a minute (fetch with bucket_width=1m)"
				  : "not the start of a UTC day (fetch with bucket_width=1d)");
		return -1;
	}
	*day = t;
	return minutes ? bucket_width_ok(file, i, bucket, f, t) : 0;
}

/* Adds k (the bucket being read, at b->v[b->n]) to a result of the same
 * bucket (from b->v[first]) of the same model, service tier and context
 * window (Anthropic's batch and standard are both the standard tier,
 * priority_on_demand priority, flex_discount flex): 1 when it did, 0 when
 * k is a result of its own. Counts of at most 10^15 each, a bucket's few
 * results: no wrap. */
static int merge_result(struct recon_buckets *b, size_t first, const struct recon_bucket *k)
{
	for (size_t j = first; j < b->n; j++) {
		struct recon_bucket *o = &b->v[j];
		if (strcmp(o->model, k->model) != 0 || o->tier != k->tier || o->long_context != k->long_context ||
		    o->media != k->media)
			continue;
		int64_t *into[] = {&o->requests, &o->input_tokens, &o->cached_input_tokens, &o->cache_write_input_tokens,
				   &o->output_tokens, &o->cache_write_1h_tokens, &o->audio_input_tokens,
				   &o->audio_output_tokens, &o->web_search_calls, &o->speech_characters,
				   &o->transcription_seconds, &o->images};
		const int64_t from[] = {k->requests, k->input_tokens, k->cached_input_tokens, k->cache_write_input_tokens,
					k->output_tokens, k->cache_write_1h_tokens, k->audio_input_tokens,
					k->audio_output_tokens, k->web_search_calls, k->speech_characters,
					k->transcription_seconds, k->images};
		for (size_t f = 0; f < sizeof(from) / sizeof(from[0]); f++)
			*into[f] += from[f];
		o->reports &= k->reports;
		return 1;
	}
	return 0;
}

static int read_bucket(const char *file, size_t i, json_t *bucket, enum recon_format f, struct recon_buckets *b)
{
	size_t first = b->n;
	int64_t day;
	if (!json_is_object(bucket)) {
		fprintf(stderr, "creditctl: %s: data[%zu]: not an object\n", file, i);
		return -1;
	}
	if (bucket_day(file, i, bucket, f, b->minutes, &day) != 0 || cover(b, file, day) != 0)
		return -1;
	json_t *results = json_object_get(bucket, "results"), *r;
	if (!json_is_array(results)) {
		fprintf(stderr, "creditctl: %s: data[%zu].results: %s\n", file, i, results == NULL ? "missing" : "not a list");
		return -1;
	}
	size_t j;
	json_array_foreach(results, j, r) {
		char where[64];
		snprintf(where, sizeof(where), "data[%zu].results[%zu]", i, j);
		const char *model = json_string_value(json_object_get(r, "model"));
		if (!json_is_object(r) || !model_ok(model)) {
			fprintf(stderr, "creditctl: %s: %s.model: %s\n", file, where,
				!json_is_object(r) ? "no result object" : "missing or not a model name (fetch with group_by=model)");
			return -1;
		}
		struct recon_bucket *k = bucket_next(b, file);
		if (k == NULL)
			return -1;
		k->day = day;
		snprintf(k->model, sizeof(k->model), "%s", model);
		if ((f == RECON_OPENAI ? openai_result(file, where, r, k) : anthropic_result(file, where, r, k)) != 0)
			return -1;
		if (!merge_result(b, first, k))
			b->n++;
	}
	return 0;
}

/* A page: {"data": [bucket...], "has_more", "next_page"}. The format is
 * guessed from the first bucket's day field when not given. */
static int read_page(const char *file, const char *text, enum recon_format f, struct recon_buckets *b)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *data = json_object_get(root, "data"), *bucket;
	int rc = -1;
	if (root == NULL)
		fprintf(stderr, "creditctl: %s:%d: not JSON: %s\n", file, je.line, je.text);
	else if (!json_is_array(data))
		fprintf(stderr, "creditctl: %s: data: %s\n", file, data == NULL ? "missing (not a usage report page)" : "not a list");
	else
		rc = 0;
	json_t *first = rc == 0 ? json_array_get(data, 0) : NULL;
	if (rc == 0 && f == RECON_GUESS && first != NULL) {
		f = json_object_get(first, "start_time") != NULL ? RECON_OPENAI
		    : json_object_get(first, "starting_at") != NULL ? RECON_ANTHROPIC : RECON_GUESS;
		if (f == RECON_GUESS) {
			fprintf(stderr, "creditctl: %s: data[0]: neither start_time (OpenAI) nor starting_at (Anthropic)\n", file);
			rc = -1;
		}
	}
	size_t i;
	if (rc == 0 && f != RECON_GUESS)
		b->formats |= 1u << f;
	if (rc == 0)
		json_array_foreach(data, i, bucket)
			if (read_bucket(file, i, bucket, f, b) != 0) {
				rc = -1;
				break;
			}
	json_decref(root);
	return rc;
}

/* ---- CSV ---- */

static int csv_count(const char *file, int line, const char *name, const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = s != NULL ? strtoll(s, &end, 10) : -1;
	if (s == NULL || *s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > LIMIT_RECONCILE_COUNT_MAX ||
	    *s == '+' || *s == '-' || *s == ' ') {
		fprintf(stderr, "creditctl: %s:%d: %s: %s\n", file, line, name,
			s == NULL ? "missing" : "not a whole number from 0 to 10^15");
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* The end of a field at s: a comma, a line break or the text's end. */
static int csv_end(char c)
{
	return c == ',' || c == '\n' || c == '\r' || c == '\0';
}

/* A quoted field from s (at its opening quote) unquoted into w: "" is a
 * quote; commas and line breaks are the field's (*lines counts the
 * latter). The text after its closing quote, or NULL with *why. */
static char *csv_quoted(char *s, char **w, int *lines, const char **why)
{
	for (s++;; s++) {
		if (*s == '\0') {
			*why = "a quoted field is not closed";
			return NULL;
		}
		if (*s == '"' && s[1] != '"')
			break;
		if (*s == '"')
			s++;
		*lines += *s == '\n';
		*(*w)++ = *s;
	}
	s++;
	if (!csv_end(*s)) {
		*why = "text after a closing quote";
		return NULL;
	}
	return s;
}

/* One record of RFC 4180 at *p, its fields unquoted in place into f (at
 * most max): a field in double quotes may hold commas, line breaks and
 * "" for a quote; a record ends at CRLF or LF outside quotes (a lone CR
 * is refused before, csv_lone_cr). *p moves
 * past it, *lines counts the line breaks it took. 0, or -1 with *why. */
static int csv_record(char **p, char **f, int max, int *n, int *lines, const char **why)
{
	char *s = *p;
	*n = 0;
	*lines = 0;
	for (;;) {
		char *w = s;
		if (*n == max) {
			*why = "too many fields";
			return -1;
		}
		f[(*n)++] = w;
		if (*s == '"') {
			s = csv_quoted(s, &w, lines, why);
			if (s == NULL)
				return -1;
		} else {
			while (!csv_end(*s)) {
				if (*s == '"') {
					*why = "a quote inside a field not quoted";
					return -1;
				}
				*w++ = *s++;
			}
		}
		char c = *s;
		*w = '\0';
		if (c == ',') {
			s++;
			continue;
		}
		s += c == '\r' && s[1] == '\n' ? 2 : c != '\0';
		*lines += c != '\0';
		*p = s;
		return 0;
	}
}

/* date,model,input_tokens,cached_input_tokens,output_tokens
 * [,requests[,cache_write_input_tokens[,cache_write_1h_tokens,
 * audio_input_tokens,audio_output_tokens,web_search_calls[,service_tier
 * [,long_context]]]]]: input counts cached and cache-write tokens, as the
 * providers' reports do; the 1-hour writes are of the writes, audio of
 * input and output; service_tier standard, priority or flex; long_context
 * 0 or 1. */
static const char *const csv_names[] = {"date", "model", "input_tokens", "cached_input_tokens", "output_tokens",
					"requests", "cache_write_input_tokens", "cache_write_1h_tokens",
					"audio_input_tokens", "audio_output_tokens", "web_search_calls", "service_tier",
					"long_context"};
enum { CSV_FIELDS_MAX = 13 };

/* The fields from the eighth: what is billed beyond tokens. 0, or -1 said. */
static int csv_billed(const char *file, int lineno, char **f, int n, struct recon_bucket *k)
{
	int64_t *counts[] = {&k->cache_write_1h_tokens, &k->audio_input_tokens, &k->audio_output_tokens,
			     &k->web_search_calls};
	for (int i = 7; i < n && i < 11; i++)
		if (csv_count(file, lineno, csv_names[i], f[i], counts[i - 7]) != 0)
			return -1;
	if (n >= 12) {
		static const char *const tiers[RECON_TIER_COUNT] = {"standard", "priority", "flex"};
		k->tier = -1;
		for (int t = 0; t < RECON_TIER_COUNT; t++)
			k->tier = strcmp(f[11], tiers[t]) == 0 ? t : k->tier;
		if (f[11][0] == '\0')
			k->tier = RECON_TIER_STANDARD;
		if (k->tier < 0) {
			fprintf(stderr, "creditctl: %s:%d: service_tier: standard, priority or flex\n", file, lineno);
			return -1;
		}
	}
	if (n == 13 && strcmp(f[12], "0") != 0 && strcmp(f[12], "1") != 0) {
		fprintf(stderr, "creditctl: %s:%d: long_context: 0 or 1\n", file, lineno);
		return -1;
	}
	k->long_context = n == 13 && strcmp(f[12], "1") == 0;
	k->reports = RECON_REPORTS_TOKENS |
		     (n >= 11 ? RECON_REPORTS_1H | RECON_REPORTS_AUDIO | RECON_REPORTS_SEARCHES : 0) |
		     (n >= 12 ? RECON_REPORTS_TIER : 0) | (n >= 13 ? RECON_REPORTS_WINDOW : 0);
	if (k->cache_write_1h_tokens > k->cache_write_input_tokens ||
	    k->audio_input_tokens > k->input_tokens - k->cached_input_tokens - k->cache_write_input_tokens ||
	    k->audio_output_tokens > k->output_tokens) {
		fprintf(stderr, "creditctl: %s:%d: cache_write_1h_tokens or audio tokens above the tokens that count "
			"them\n", file, lineno);
		return -1;
	}
	return 0;
}

static int csv_line(const char *file, int lineno, char **f, int n, struct recon_buckets *b)
{
	if (n < 5 || n > CSV_FIELDS_MAX || (n > 7 && n < 11)) {
		fprintf(stderr, "creditctl: %s:%d: %d fields; date,model,input_tokens,cached_input_tokens,output_tokens"
			"[,requests[,cache_write_input_tokens[,cache_write_1h_tokens,audio_input_tokens,audio_output_tokens,"
			"web_search_calls[,service_tier[,long_context]]]]]\n", file, lineno, n);
		return -1;
	}
	struct recon_bucket *k = bucket_next(b, file);
	if (k == NULL)
		return -1;
	if (b->minutes ? ctl_reconcile_read_parse_minute(f[0], &k->day) != 0
		       : ctl_reconcile_read_parse_day(f[0], &k->day) != 0) {
		fprintf(stderr, "creditctl: %s:%d: %s: %s\n", file, lineno, csv_names[0],
			b->minutes ? "not the start of a minute YYYY-MM-DDTHH:MM:00Z" : "not a date YYYY-MM-DD");
		return -1;
	}
	if (cover(b, file, k->day) != 0)
		return -1;
	if (!model_ok(f[1])) {
		fprintf(stderr, "creditctl: %s:%d: %s: not a model name\n", file, lineno, csv_names[1]);
		return -1;
	}
	snprintf(k->model, sizeof(k->model), "%s", f[1]);
	if (csv_count(file, lineno, csv_names[2], f[2], &k->input_tokens) != 0 ||
	    csv_count(file, lineno, csv_names[3], f[3], &k->cached_input_tokens) != 0 ||
	    csv_count(file, lineno, csv_names[4], f[4], &k->output_tokens) != 0 ||
	    (n >= 6 && csv_count(file, lineno, csv_names[5], f[5], &k->requests) != 0) ||
	    (n >= 7 && csv_count(file, lineno, csv_names[6], f[6], &k->cache_write_input_tokens) != 0))
		return -1;
	k->has_requests = n >= 6;
	if (k->cached_input_tokens > k->input_tokens) {
		fprintf(stderr, "creditctl: %s:%d: cached_input_tokens: above input_tokens (which counts them)\n", file, lineno);
		return -1;
	}
	if (k->cache_write_input_tokens > k->input_tokens - k->cached_input_tokens) {
		fprintf(stderr, "creditctl: %s:%d: cache_write_input_tokens: above input_tokens less cached_input_tokens "
			"(input_tokens counts both)\n", file, lineno);
		return -1;
	}
	if (csv_billed(file, lineno, f, n, k) != 0)
		return -1;
	b->n++;
	return 0;
}

/* A carriage return not followed by a line feed: line breaks are CRLF or
 * LF (RFC 4180, and what Unix tools write); its line, or 0. */
static int csv_lone_cr(const char *text)
{
	int line = 1;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r' && p[1] != '\n')
			return line;
		line += *p == '\n';
	}
	return 0;
}

/* The records of an RFC 4180 text: blank ones, comment lines (# first)
 * and a header (the first record, its first field "date") skipped; each
 * named by its first line. */
static int read_csv(const char *file, char *text, struct recon_buckets *b)
{
	int lineno = 1, lines = 0, n, first = 1;
	const char *why = NULL;
	char *f[CSV_FIELDS_MAX + 1];
	int cr = csv_lone_cr(text);
	if (cr > 0) {
		fprintf(stderr, "creditctl: %s:%d: a carriage return without a line feed\n", file, cr);
		return -1;
	}
	char *p = text;
	if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;		/* a UTF-8 byte order mark, as spreadsheets write one */
	for (; *p != '\0'; lineno += lines) {
		char *start = p;
		if (*p == '#') {	/* a comment: the rest of its line, as it is */
			p += strcspn(p, "\n");
			p += *p == '\n';
			lines = 1;
			continue;
		}
		if (csv_record(&p, f, CSV_FIELDS_MAX + 1, &n, &lines, &why) != 0) {
			fprintf(stderr, "creditctl: %s:%d: %s\n", file, lineno, why);
			return -1;
		}
		size_t len = (size_t)(p - start);
		while (len > 0 && (start[len - 1] == '\n' || start[len - 1] == '\r'))
			len--;	/* the record's text, its line break not counted */
		if (len > LIMIT_RECONCILE_LINE_BYTES) {
			fprintf(stderr, "creditctl: %s:%d: longer than %d bytes\n", file, lineno, LIMIT_RECONCILE_LINE_BYTES);
			return -1;
		}
		if (n == 1 && f[0][strspn(f[0], " \t")] == '\0')
			continue;
		if (first && strcmp(f[0], "date") == 0) {
			first = 0;
			continue;
		}
		first = 0;
		if (csv_line(file, lineno, f, n, b) != 0)
			return -1;
	}
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "creditctl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct dynbuf text;
	char chunk[8192];
	size_t got;
	dynbuf_init(&text, LIMIT_RECONCILE_FILE_BYTES);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (dynbuf_add(&text, chunk, got) != 0)
			break;	/* past the cap: no need to read the rest (or forever) */
	int bad = ferror(f);
	fclose(f);
	char *all = text.failed || bad ? NULL : dynbuf_take(&text);
	dynbuf_free(&text);
	if (all == NULL && (bad || text.failed))
		fprintf(stderr, "creditctl: %s: unreadable or larger than %d bytes\n", path, LIMIT_RECONCILE_FILE_BYTES);
	else if (all == NULL)
		all = calloc(1, 1);	/* an empty file: no buckets */
	return all;
}

int ctl_reconcile_read_read_file(const char *path, enum recon_format format, struct recon_buckets *b)
{
	char *text = slurp(path);
	if (text == NULL)
		return -1;
	const char *first = text + strspn(text, " \t\r\n");
	int rc;
	if (format == RECON_CSV || (format == RECON_GUESS && *first != '{')) {
		rc = read_csv(path, text, b);
		b->formats |= 1u << RECON_CSV;
	} else
		rc = read_page(path, text, format, b);
	free(text);
	return rc;
}

static int bucket_cmp(const void *a, const void *b)
{
	const struct recon_bucket *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	int c = strcmp(x->model, y->model);
	if (c != 0)
		return c;
	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->media != y->media)
		return x->media - y->media;
	return x->long_context - y->long_context;
}

unsigned int ctl_reconcile_read_reports_join(unsigned int a, unsigned int b)
{
	unsigned int media = (a | b) & RECON_REPORTS_MEDIA, ta = a & ~RECON_REPORTS_MEDIA, tb = b & ~RECON_REPORTS_MEDIA;
	if (!(a & RECON_REPORTS_TOKENS))
		return media | tb;
	return media | ((b & RECON_REPORTS_TOKENS) ? ta & tb : ta);
}

int ctl_reconcile_read_check_duplicates(struct recon_buckets *b)
{
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(b->v[0]), bucket_cmp);
	if (b->ncovered > 1)
		qsort(b->covered, b->ncovered, sizeof(b->covered[0]), i64_cmp);
	for (size_t i = 1; i < b->n; i++)
		if (bucket_cmp(&b->v[i - 1], &b->v[i]) == 0) {
			char day[TIMEFMT_LEN];
			timefmt_rfc3339(b->v[i].day, day);
			day[b->minutes ? 16 : 10] = '\0';
			fprintf(stderr, "creditctl: %s: %s %s is also in %s: a %s × model (× service tier × context "
				"window) is given once\n", b->v[i].path, day, b->v[i].model, b->v[i - 1].path,
				b->minutes ? "minute" : "day");
			return -1;
		}
	return 0;
}

void ctl_reconcile_read_buckets_free(struct recon_buckets *b)
{
	free(b->v);
	free(b->covered);
	b->v = NULL;
	b->covered = NULL;
	b->n = b->cap = b->ncovered = b->covcap = 0;
}
