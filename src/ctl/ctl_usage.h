/* ctl_usage.h: creditctl's usage text, the commands and their options. */
#ifndef CREDITD_CTL_USAGE_H
#define CREDITD_CTL_USAGE_H
#include <stdio.h>

/* Prints the usage text to out (stdout for --help, stderr after a wrong
 * command line, whose exit status is then 2). */
void ctl_usage_print(FILE *out);
#endif
