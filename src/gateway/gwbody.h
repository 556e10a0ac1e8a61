/* gwbody.h: how large a gateway route's request body may be, by the
 * route's path (docs/gateway.md, "Request bodies"), looked up by the
 * worker before it reads a byte of the body: a declared Content-Length
 * over the limit is answered 413 unread, a chunked body is counted as it
 * arrives. The routes that take uploads (audio/transcriptions,
 * images/edits) have their own limit, above [gateway] max_body_bytes;
 * every other route has that common one. A body past the common limit is
 * kept on disk (spool.h), never in memory. */
#ifndef CREDITD_GWBODY_H
#define CREDITD_GWBODY_H
#include <stddef.h>
#include <stdint.h>

/* The most bytes a body sent to path may have: the route's own limit
 * when the table names path (below the base path, no query: e.g.
 * "/openai/v1/audio/transcriptions"), else common. */
int64_t gwbody_limit(const char *path, int64_t common);
/* The table, for the docs and the tests: row i's path and limit (static),
 * when i is below the number of rows, which is returned. */
size_t gwbody_row(size_t i, const char **path, int64_t *max_bytes);
#endif
