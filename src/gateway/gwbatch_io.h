/* gwbatch_io.h: the provider calls of the Batch API (docs/gateway.md,
 * "Batches"), each run to its end on the calling thread (provider_wait):
 * a batch's create, an input file's upload, and the job's polls and
 * downloads. Never the gateway's loop, never the ledger. */
#ifndef CREDITD_GWBATCH_IO_H
#define CREDITD_GWBATCH_IO_H
#include <stddef.h>
#include "dynbuf.h"

struct gwconfig_provider;
struct spool;

/* One request. body_len bytes at body (in memory), or of body_file when
 * it is not NULL; neither: no body. content_type NULL: none sent. */
struct gwbatch_request {
	const char *method;		/* "GET", "POST", "DELETE" */
	const char *path;		/* the provider's path after its base URL: "/batches/batch_1" */
	const char *content_type;
	const char *body;
	size_t body_len;
	const struct spool *body_file;
	long connect_ms;		/* [gateway] connect_timeout_ms */
	long total_ms;			/* the whole call's bound */
};
/* Sends r to provider p with its key and the kind's headers (Anthropic's
 * version). The answer's status into *status, its body appended to
 * answer (its maximum bounds it: past it the call fails). 0 when an
 * answer came (any status), -1 with err when none did. */
int gwbatch_io_call(const struct gwconfig_provider *p, const struct gwbatch_request *r, int *status,
		    struct dynbuf *answer, char *err, size_t errcap);
/* As gwbatch_io_call, the body written to a new spool in dir (a result
 * file, kept on disk: LIMIT_GATEWAY_BATCH_RESULT_BYTES at most); *out the
 * spool (the caller frees it), NULL when none came. */
int gwbatch_io_download(const struct gwconfig_provider *p, const struct gwbatch_request *r, const char *dir,
			int *status, struct spool **out, char *err, size_t errcap);
#endif
