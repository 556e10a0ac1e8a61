/* timefmt.h: RFC 3339 timestamps and calendar months, in UTC only.
 * Pure functions over int64 unix seconds; no time zone but UTC exists here. */
#ifndef CREDITD_TIMEFMT_H
#define CREDITD_TIMEFMT_H
#include <stdint.h>

#define TIMEFMT_LEN 32
/* A UTC day: no leap seconds in unix time, so every day is this long. */
#define TIMEFMT_SECONDS_PER_DAY 86400
/* The same, as text for SQL (days of unix time). */
#define TIMEFMT_DAY_SQL "86400"
_Static_assert(TIMEFMT_SECONDS_PER_DAY == 86400, "TIMEFMT_DAY_SQL spells TIMEFMT_SECONDS_PER_DAY");
/* Writes "2026-11-21T10:00:00Z" into out (at least TIMEFMT_LEN bytes). */
void timefmt_rfc3339(int64_t unix_seconds, char *out);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" or a plain date
 * "YYYY-MM-DD" (midnight UTC). Returns 0 or -1. */
int timefmt_parse(const char *s, int64_t *unix_seconds);
/* 202611 for any moment of November 2026 (UTC). */
int64_t timefmt_month_key(int64_t unix_seconds);
/* The UTC calendar month holding unix_seconds: its first second, and the
 * first second of the next month (a plan's period: docs/decisions.md, "Plan periods"). */
void timefmt_month_bounds(int64_t unix_seconds, int64_t *start, int64_t *end);
/* Seconds since the epoch, now (moved by the test clock in a build made
 * with --enable-test-clock). */
int64_t timefmt_now(void);
/* The monotonic clock in milliseconds (CLOCK_MONOTONIC): deadlines,
 * timeouts and intervals, never a date. */
int64_t timefmt_mono_ms(void);
/* The test clock's file when this build has one and it is set, else NULL. */
const char *timefmt_test_clock_file(void);
#endif
