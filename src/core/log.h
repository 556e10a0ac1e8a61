/* log.h: creditd's logging: one line per request plus errors, to stderr,
 * a file (reopened on SIGHUP for logrotate) or syslog. Thread-safe: a line
 * is written with one call. Callers never pass secrets or request bodies. */
#ifndef CREDITD_LOG_H
#define CREDITD_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* target: "stderr", "syslog", or a file path. Returns 0, or -1 (errno set)
 * when the file cannot be opened. The string is copied. */
int log_open(const char *target, enum log_level level);
/* Reopens a file target (SIGHUP). Safe to call from the main thread while
 * workers log. */
void log_reopen(void);
void log_close(void);
__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);
/* One JSON object per line instead of text (server.log_format = json),
 * for log shippers: {"time", "level", "pid", "msg"}, and for a request
 * also "method", "path", "status", "ms", "account", "request_id". */
void log_set_json(int on);
/* A request's line: the same text as before, or its fields in JSON. */
void log_request(const char *method, const char *path, int status, double ms, const char *account,
		 const char *request_id);
/* What this thread is serving, for the line an assertion failure writes
 * before the process aborts (docs/operations.md, "When an assertion
 * fails"): log_context_push appends a part ("GET /v1/... X-Request-Id
 * ..."; a guard batch adds its operations) and returns the mark to give
 * log_context_pop when that part is done. Thread-local, bounded (a part
 * that does not fit is cut); never holds a secret or a request body. */
__attribute__((format(printf, 1, 2)))
unsigned log_context_push(const char *fmt, ...);
void log_context_pop(unsigned mark);
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#endif
