/* gwbody.c: the gateway routes' own body limits, a row a route (see
 * gwbody.h). Exact paths: a route's path has no parameter, and a path
 * the table does not name has the common limit, so a typo in a client's
 * path never opens the larger one. */
#include "gwbody.h"
#include "limits.h"
#include <string.h>

struct row {
	const char *path;
	int64_t max_bytes;
};

static const struct row rows[] = {
	{"/openai/v1/audio/transcriptions", LIMIT_GATEWAY_UPLOAD_BODY_BYTES},
	{"/openai/v1/images/edits", LIMIT_GATEWAY_UPLOAD_BODY_BYTES},
	/* The Batch API's input files, and Anthropic's batch of requests
	 * (parsed whole in memory: limits_gateway.h). */
	{"/openai/v1/files", LIMIT_GATEWAY_FILES_BODY_BYTES},
	{"/anthropic/v1/messages/batches", LIMIT_GATEWAY_BATCH_CREATE_BODY_BYTES},
};
#define ROWS (sizeof(rows) / sizeof(rows[0]))
_Static_assert(LIMIT_GATEWAY_UPLOAD_BODY_BYTES <= LIMIT_GATEWAY_FILES_BODY_BYTES, "the files route takes the most");

int64_t gwbody_limit(const char *path, int64_t common)
{
	for (size_t i = 0; path != NULL && i < ROWS; i++)
		if (strcmp(rows[i].path, path) == 0)
			return rows[i].max_bytes;
	return common;
}

size_t gwbody_row(size_t i, const char **path, int64_t *max_bytes)
{
	if (i < ROWS) {
		*path = rows[i].path;
		*max_bytes = rows[i].max_bytes;
	}
	return ROWS;
}
