/* ctl_usage.h: creditctl's usage text, the commands and their options. */
#ifndef CREDITD_CTL_USAGE_H
#define CREDITD_CTL_USAGE_H
#include <stdio.h>

/* Prints the usage text to out (stdout for --help, stderr after a wrong
 * command line, whose exit status is then 2). */
void ctl_usage_print(FILE *out);
/* A wrong command line: "creditctl: " and what is wrong with it (printf's
 * format) on stderr, a line naming the argument or option, then the usage
 * text; returns 2, the exit status of a usage error (docs/creditctl.8). */
int ctl_usage_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
