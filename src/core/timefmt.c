/* timefmt.c: UTC time formatting and parsing with gmtime_r/timegm only. */
#include "timefmt.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ctype.h>
#ifdef CREDITD_TEST_CLOCK
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#endif

void timefmt_rfc3339(int64_t unix_seconds, char *out)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, TIMEFMT_LEN, "1970-01-01T00:00:00Z");
		return;
	}
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		snprintf(out, TIMEFMT_LEN, "1970-01-01T00:00:00Z");
		return;
	}
	snprintf(out, TIMEFMT_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", (tm.tm_year + 1900) % 10000,
		 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_offset(const char *p, int *offset_seconds)
{
	int hh, mm;
	if (strcmp(p, "Z") == 0 || strcmp(p, "z") == 0) {
		*offset_seconds = 0;
		return 0;
	}
	if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':')
		return -1;
	if (digits(p + 1, 2, &hh) != 0 || digits(p + 4, 2, &mm) != 0 || hh > 23 || mm > 59)
		return -1;
	*offset_seconds = (hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
	return 0;
}

int timefmt_parse(const char *s, int64_t *unix_seconds)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, se = 0, offset = 0;
	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 10 || digits(s, 4, &y) != 0 || s[4] != '-' || digits(s + 5, 2, &mo) != 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) != 0)
		return -1;
	const char *p = s + 10;
	if (*p != '\0') {
		if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 9 || digits(p + 1, 2, &h) != 0 ||
		    p[3] != ':' || digits(p + 4, 2, &mi) != 0 || p[6] != ':' || digits(p + 7, 2, &se) != 0)
			return -1;
		p += 9;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p))
				p++;
		}
		if (parse_offset(p, &offset) != 0)
			return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	struct tm check;
	if (t == (time_t)-1 || gmtime_r(&t, &check) == NULL || check.tm_mday != d)
		return -1;
	*unix_seconds = (int64_t)t - offset;
	return 0;
}

int64_t timefmt_month_key(int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	return (int64_t)(tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

void timefmt_month_bounds(int64_t unix_seconds, int64_t *start, int64_t *end)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm, first;
	*start = *end = 0;
	if (gmtime_r(&t, &tm) == NULL)
		return;
	memset(&first, 0, sizeof(first));
	first.tm_year = tm.tm_year;
	first.tm_mon = tm.tm_mon;
	first.tm_mday = 1;
	*start = (int64_t)timegm(&first);
	first.tm_mon += 1;	/* timegm normalises December + 1 to January */
	*end = (int64_t)timegm(&first);
}

#ifdef CREDITD_TEST_CLOCK
/* The test clock (configure --enable-test-clock, never in a production
 * build: `make install` refuses such a build). The file named by
 * CREDITD_TEST_CLOCK_FILE holds seconds to add to the real clock; it is
 * read at every call, so a test moves time for running processes by
 * rewriting it (atomically, by rename). No request can reach it. */
const char *timefmt_test_clock_file(void)
{
	const char *path = getenv("CREDITD_TEST_CLOCK_FILE");
	return path != NULL && path[0] != '\0' ? path : NULL;
}

static int64_t test_clock_offset(void)
{
	const char *path = timefmt_test_clock_file();
	char buf[32];
	if (path == NULL)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (int64_t)strtoll(buf, NULL, 10);
}
#else
const char *timefmt_test_clock_file(void)
{
	return NULL;
}

static int64_t test_clock_offset(void)
{
	return 0;
}
#endif

int64_t timefmt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec + test_clock_offset();
}

int64_t timefmt_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
