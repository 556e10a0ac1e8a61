/* store_params.h: what store.c takes from store_params.c beyond the
 * typed builders of store_db.h. */
#ifndef CREDITD_STORE_PARAMS_H
#define CREDITD_STORE_PARAMS_H
#include <stdarg.h>

struct db_params;

/* The format string of store_exec ('i' int64_t, 'I' const int64_t *
 * or NULL, 's' const char * or NULL, 'b' bytes and their size_t), bound
 * into p through the typed builders: the count, or -1 (a letter unknown,
 * or too many). */
int store_params_vformat(struct db_params *p, const char *fmt, va_list ap);
#endif
