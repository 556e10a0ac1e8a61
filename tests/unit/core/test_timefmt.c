/* test_timefmt.c: RFC 3339 out and in, in UTC only, and the calendar month
 * a moment falls in, at the boundaries where off-by-one errors live. The
 * expected seconds were computed independently (Python's calendar.timegm). */
#include "timefmt.h"
#include "tap.h"

/* 2026-11-21T10:00:00Z */
#define NOV21_10H 1795255200LL

static void formats(int64_t t, const char *want, const char *why)
{
	char out[TIMEFMT_LEN];
	timefmt_rfc3339(t, out);
	is_str(out, want, "%s", why);
}

static void test_format(void)
{
	formats(0, "1970-01-01T00:00:00Z", "the epoch");
	formats(1709210096, "2024-02-29T12:34:56Z", "a leap day");
	formats(NOV21_10H, "2026-11-21T10:00:00Z", "an ordinary moment");
	formats(2147483648LL, "2038-01-19T03:14:08Z", "past the 32-bit time_t end");
	formats(253402300799LL, "9999-12-31T23:59:59Z", "the last second with a four-digit year");
	/* Five-digit years are not RFC 3339: the function says the epoch
	 * rather than write something a parser would misread. */
	formats(253402300800LL, "1970-01-01T00:00:00Z", "year 10000 falls back to the epoch");
}

static void parses(const char *s, int64_t want, const char *why)
{
	int64_t got = -1;
	if (ok(timefmt_parse(s, &got) == 0, "%s: '%s' accepted", why, s))
		is_int(got, want, "%s: seconds", why);
	else
		ok(0, "%s: no seconds to compare", why);
}

static void refused(const char *s, const char *why)
{
	int64_t got = 42;
	is_int(timefmt_parse(s, &got), -1, "%s: '%s' refused", why, s);
	is_int(got, 42, "%s: output left alone", why);
}

static void test_parse(void)
{
	parses("2026-11-21T10:00:00Z", NOV21_10H, "Z");
	parses("2026-11-21t10:00:00z", NOV21_10H, "lower-case t and z");
	parses("2026-11-21 10:00:00Z", NOV21_10H, "space separator");
	parses("2026-11-21T12:00:00+02:00", NOV21_10H, "positive offset");
	parses("2026-11-21T04:30:00-05:30", NOV21_10H, "negative offset with minutes");
	parses("2026-11-21T10:00:00+00:00", NOV21_10H, "zero offset");
	parses("2026-11-21T10:00:00.999999Z", NOV21_10H, "fractional seconds are dropped");
	parses("2026-11-21T10:00:00.5+00:00", NOV21_10H, "fraction then offset");
	parses("2026-11-21", NOV21_10H - 10 * 3600, "plain date is midnight UTC");
	parses("1970-01-01", 0, "the epoch as a date");
	parses("2024-02-29", 1709164800LL, "a leap day");
	parses("9999-12-31T23:59:59Z", 253402300799LL, "far future");
	refused("2026-13-01", "month 13");
	refused("2026-00-10", "month 0");
	refused("2026-01-32", "day 32");
	refused("2026-01-00", "day 0");
	refused("2026-02-30", "Feb 30");
	refused("2025-02-29", "Feb 29 of a common year");
	refused("2026-04-31", "April 31");
	refused("2026-11-21T24:00:00Z", "hour 24");
	refused("2026-11-21T10:60:00Z", "minute 60");
	refused("1969-12-31", "before the epoch");
	refused("garbage", "garbage");
	refused("", "empty");
	refused("2026-1-21", "one-digit month");
	refused("2026-11-21T10:00:00", "time without offset");
	refused("2026-11-21T10:00Z", "time without seconds");
	refused("2026-11-21T10:00:00Zjunk", "trailing junk after Z");
	refused("2026-11-21T10:00:00+02:00x", "trailing junk after an offset");
	refused("2026-11-21x", "trailing junk after a date");
	refused("2026-11-21T10:00:00.Z", "a dot without digits");
	refused("2026-11-21T10:00:00+24:00", "offset hour 24");
	refused("2026-11-21T10:00:00+0200", "offset without colon");
	refused("2026-11-21T10:00:00+2:00", "one-digit offset hour");
}

static void test_month_key(void)
{
	is_int(timefmt_month_key(0), 197001, "the epoch");
	is_int(timefmt_month_key(NOV21_10H), 202611, "mid-month");
	is_int(timefmt_month_key(1796083199LL), 202611, "last second of November");
	is_int(timefmt_month_key(1796083200LL), 202612, "first second of December");
	is_int(timefmt_month_key(1798761599LL), 202612, "last second of the year");
	is_int(timefmt_month_key(1798761600LL), 202701, "December turns to January");
	is_int(timefmt_month_key(1709251199LL), 202402, "last second of a leap February");
	is_int(timefmt_month_key(1709251200LL), 202403, "first second of March after it");
}

static void test_month_bounds(void)
{
	static const struct { const char *at, *start, *end; } cases[] = {
		{"2026-11-22T10:39:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t at, start, end;
		char s[TIMEFMT_LEN], e[TIMEFMT_LEN];
		timefmt_parse(cases[i].at, &at);
		timefmt_month_bounds(at, &start, &end);
		timefmt_rfc3339(start, s);
		timefmt_rfc3339(end, e);
		is_str(s, cases[i].start, "month of %s starts", cases[i].at);
		is_str(e, cases[i].end, "month of %s ends", cases[i].at);
	}
}

int main(void)
{
	test_format();
	test_parse();
	test_month_key();
	int64_t now = timefmt_now();
	ok(now > 1700000000LL, "now is after November 2023");
	test_month_bounds();
	return done_testing();
}
