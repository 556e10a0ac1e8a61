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
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#endif
