/* ctl_common.h: what creditctl's commands share: reading options, numbers
 * and printing a ledger failure or a JSON answer. The command line's own
 * layer, above the ledger; nothing here speaks SQL. */
#ifndef CREDITD_CTL_COMMON_H
#define CREDITD_CTL_COMMON_H
#include <jansson.h>
#include <stdint.h>
#include "errors.h"

struct store;

/* "--name VALUE" in argv[from..]: VALUE (borrowed from argv), NULL when absent. */
const char *ctl_common_opt(int argc, char **argv, int from, const char *name);
/* 1 when argv[from..] is only "--name VALUE" pairs of the NULL-terminated
 * names, each once (--stripe-price may repeat); 0 (said on stderr)
 * otherwise. */
int ctl_common_opts_known(int argc, char **argv, int from, const char *const *names);
/* Where the flag NAME (an option without a value) is in argv[from..]; 0
 * when it is not there. */
int ctl_common_flag(int argc, char **argv, int from, const char *name);
/* 1 when the flag NAME is in argv[from..], which it is then taken out of
 * (*argc one less); 0 otherwise. */
int ctl_common_flag_take(int *argc, char **argv, int from, const char *name);
/* The exit status of a check that found work to do (migrate --check), and
 * of one that could not reach the database. */
#define CTL_EXIT_PENDING 3
#define CTL_EXIT_UNREACHABLE 4
/* A whole decimal int64: 0, or -1 with *out untouched. */
int ctl_common_parse_i64(const char *s, int64_t *out);
/* The API's rule for text: min to max bytes of UTF-8 without control
 * characters. 1 when s keeps it. */
int ctl_common_text_ok(const char *s, size_t min, size_t max);
/* Says what failed on stderr (with the ledger's last message); returns 1. */
int ctl_common_fail(struct store *db, enum cd_err rc, const char *what);
/* Prints v indented and takes it (json_decref); returns 0. */
int ctl_common_print_json(json_t *v);
#endif
