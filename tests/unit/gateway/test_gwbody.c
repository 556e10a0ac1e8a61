/* test_gwbody.c: the gateway routes' body limits (gwbody.h): the upload
 * routes take 25 MiB, the shipped snippets' figure; every other path,
 * near misses included, has the common limit. */
#include "gwbody.h"
#include "limits.h"
#include "tap.h"
#include <string.h>

int main(void)
{
	const int64_t common = 8388608;
	is_int(LIMIT_GATEWAY_UPLOAD_BODY_BYTES, 26214400, "25 MiB: nginx's client_max_body_size 25m, to the byte");
	is_int(gwbody_limit("/openai/v1/audio/transcriptions", common), 26214400, "audio/transcriptions: 25 MiB");
	is_int(gwbody_limit("/openai/v1/images/edits", common), 26214400, "images/edits: 25 MiB");
	is_int(gwbody_limit("/openai/v1/chat/completions", common), common, "chat: the common limit");
	is_int(gwbody_limit("/openai/v1/responses", common), common, "responses: the common limit");
	is_int(gwbody_limit("/anthropic/v1/messages", common), common, "messages: the common limit");
	is_int(gwbody_limit("/openai/v1/images/generations", common), common, "images/generations (JSON): common");
	is_int(gwbody_limit("/openai/v1/audio/speech", common), common, "audio/speech (JSON): common");
	is_int(gwbody_limit("/openai/v1/files", common), 200000000, "files: a batch's input file, 200 MB");
	is_int(gwbody_limit("/anthropic/v1/messages/batches", common), 26214400,
	       "Anthropic's batch create, parsed whole in memory: 25 MiB, the upload routes' snippet");
	is_int(gwbody_limit("/openai/v1/batches", common), common, "a batch's create (JSON): common");
	is_int(gwbody_limit("/openai/v1/audio/transcriptions/", common), common, "a trailing slash is another path");
	is_int(gwbody_limit("/openai/v1/audio/transcriptions/x", common), common, "so is a path below it");
	is_int(gwbody_limit("/anthropic/v1/audio/transcriptions", common), common, "and another kind's");
	is_int(gwbody_limit("/OPENAI/v1/audio/transcriptions", common), common, "paths are exact");
	is_int(gwbody_limit(NULL, common), common, "no path: common");
	is_int(gwbody_limit("/openai/v1/audio/transcriptions", 32 * 1024 * 1024), 26214400,
	       "a route's own limit stands whatever the common one is");

	const char *path = NULL;
	int64_t max = 0;
	size_t n = gwbody_row(0, &path, &max);
	is_int(n, 4, "four rows: the two upload routes, the two batch ones");
	for (size_t i = 0; i < n; i++) {
		gwbody_row(i, &path, &max);
		ok((strncmp(path, "/openai/v1/", 11) == 0 || strncmp(path, "/anthropic/v1/", 14) == 0) && max > common,
		   "row %zu: %s, %lld bytes", i, path, (long long)max);
		is_int(gwbody_limit(path, common), max, "row %zu: looked up by its path", i);
	}
	ok(LIMIT_GATEWAY_FILES_BODY_BYTES == 200000000, "the files route's row: 200 MB");
	return done_testing();
}
