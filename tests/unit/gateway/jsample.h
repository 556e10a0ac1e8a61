/* jsample.h: the gateway's unit tests write their JSON samples with ' for
 * " (J), and read a request body so written as the daemon reads it
 * (read_j). One copy for every test file that does. */
#ifndef CREDITD_TEST_JSAMPLE_H
#define CREDITD_TEST_JSAMPLE_H
#include "gwshape.h"
#include <stdlib.h>
#include <string.h>

/* s with every ' made ", malloc'ed (the tests free what they keep). */
static inline char *J(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1);
	for (size_t i = 0; out != NULL && i <= n; i++)
		out[i] = s[i] == '\'' ? '"' : s[i];
	return out;
}

/* gwshape_read of the body J(body_j). */
static inline int read_j(const struct gwkind_route *r, const char *body_j, struct gw_ask *ask, char *err,
			 size_t errcap, const char **param)
{
	char *body = J(body_j);
	int rc = gwshape_read(r, body, strlen(body), ask, err, errcap, param);
	free(body);
	return rc;
}

#endif
