/* log.c: line-oriented logging. Each line is formatted into a local buffer
 * and written with one write(2) (or syslog(3)) so concurrent workers never
 * interleave halves of lines. Owns the log file descriptor; nothing else
 * writes to it. */
#include "log.h"
#include "limits.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static int log_json;
static int log_syslog;
static char *log_path;
static enum log_level log_max = LOG_LVL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* What this thread serves (log_context_push). */
static __thread char context[LIMIT_LOG_CONTEXT_BYTES];
static __thread unsigned context_len;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_open(const char *target, enum log_level level)
{
	log_max = level;
	if (target == NULL || strcmp(target, "stderr") == 0)
		return 0;
	if (strcmp(target, "syslog") == 0) {
		openlog("creditd", LOG_PID, LOG_DAEMON);
		log_syslog = 1;
		return 0;
	}
	log_path = strdup(target);
	if (log_path == NULL)
		return -1;
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

void log_reopen(void)
{
	if (log_path == NULL)
		return;
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("cannot reopen log %s: %s", log_path, strerror(errno));
		return;
	}
	pthread_mutex_lock(&log_lock);
	int old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old > 2)
		close(old);
}

void log_close(void)
{
	if (log_syslog)
		closelog();
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
	free(log_path);
	log_path = NULL;
}

void log_set_json(int on)
{
	log_json = on;
}

/* Appends s as a JSON string body (no quotes) to buf at *n, escaped; never
 * past cap - 8 (room for the line's end). */
static void json_escape(char *buf, size_t cap, size_t *n, const char *s)
{
	for (; *s != '\0' && *n + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[(*n)++] = '\\';
			buf[(*n)++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			*n += (size_t)snprintf(buf + *n, cap - *n, "\\u%04x", c);
		} else {
			buf[(*n)++] = (char)c;
		}
	}
}

/* "2026-11-22T10:00:00.123Z" into out (64 bytes: room for any year). */
static void now_text(char out[64])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void write_line(const char *line, size_t len)
{
	pthread_mutex_lock(&log_lock);
	ssize_t w = write(log_fd, line, len);
	pthread_mutex_unlock(&log_lock);
	(void)w;
}

/* A JSON line of msg, with the request's fields when method is not NULL. */
static void json_line(enum log_level level, const char *msg, const char *method, const char *path, int status,
		      double ms, const char *account, const char *request_id)
{
	char line[4096], when[64];
	size_t n;
	now_text(when);
	n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"", when,
			     level_names[level], (int)getpid());
	json_escape(line, sizeof(line), &n, msg);
	if (method != NULL && n + 64 < sizeof(line)) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"method\":\"");
		json_escape(line, sizeof(line), &n, method);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"path\":\"");
		json_escape(line, sizeof(line), &n, path);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"status\":%d,\"ms\":%.1f,\"account\":\"", status, ms);
		json_escape(line, sizeof(line), &n, account);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"request_id\":\"");
		json_escape(line, sizeof(line), &n, request_id);
	}
	if (n > sizeof(line) - 4)
		n = sizeof(line) - 4;
	line[n++] = '"';
	line[n++] = '}';
	line[n++] = '\n';
	write_line(line, n);
}

void log_request(const char *method, const char *path, int status, double ms, const char *account,
		 const char *request_id)
{
	char msg[1024];
	if (LOG_LVL_INFO > log_max)
		return;
	snprintf(msg, sizeof(msg), "%s %s %d %.1fms account=%s request_id=%s", method, path, status, ms, account,
		 request_id);
	if (log_json && !log_syslog)
		json_line(LOG_LVL_INFO, msg, method, path, status, ms, account, request_id);
	else
		log_msg(LOG_LVL_INFO, "%s", msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_max)
		return;
	char line[2048];
	va_list ap;
	if (log_json && !log_syslog) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		json_line(level, line, NULL, NULL, 0, 0, NULL, NULL);
		return;
	}
	if (log_syslog) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(level == LOG_LVL_ERROR ? LOG_ERR : level == LOG_LVL_WARN ? LOG_WARNING : LOG_INFO,
		       "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ creditd[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, (int)getpid(), level_names[level]);
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	write_line(line, len);
}

unsigned log_context_push(const char *fmt, ...)
{
	unsigned mark = context_len;
	size_t cap = sizeof(context) - context_len;
	if (cap <= 3)
		return mark;
	char *at = context + context_len;
	size_t n = 0;
	if (context_len > 0) {
		memcpy(at, "; ", 2);
		n = 2;
	}
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(at + n, cap - n, fmt, ap);
	va_end(ap);
	n += m < 0 ? 0 : (size_t)m;
	context_len += (unsigned)(n < cap ? n : cap - 1);
	return mark;
}

void log_context_pop(unsigned mark)
{
	if (mark <= context_len) {
		context_len = mark;
		context[mark] = '\0';
	}
}

/* glibc's assert() calls this: the failure goes to creditd's log (a file,
 * syslog or stderr) with what the thread was serving, then to stderr as
 * glibc would write it (the journal under systemd), and the process
 * aborts as before: an assertion that fails is a bug, never a state to
 * serve on from (docs/operations.md). */
void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function)
{
	const char *serving = context_len > 0 ? context : "no request";
	log_msg(LOG_LVL_ERROR, "assertion failed: %s:%u: %s: %s; serving: %s; aborting", file, line, function,
		assertion, serving);
	if (log_fd != 2 || log_syslog || log_json)
		fprintf(stderr, "creditd: %s:%u: %s: Assertion '%s' failed; serving: %s\n", file, line, function,
			assertion, serving);
	abort();
}
