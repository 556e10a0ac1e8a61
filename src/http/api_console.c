/* api_console.c: GET {base}/console/ and its assets (console.js,
 * console.css): the operator's console's page (docs/operations.md,
 * "Console"). Every answer carries the console's security headers
 * (API_CONSOLE_HEADERS: a Content-Security-Policy with no inline script,
 * no framing) and is not stored. For now a placeholder of each, of its
 * type: the page itself and its assets, built into the binary, take
 * their place. */
#include "api.h"
#include <string.h>

void api_console_page(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	static const char page[] = "console";
	size_t n = strlen(rq->path);
	(void)ctx;
	(void)params;
	rs->console = 1;
	rs->status = 200;
	if (n > 3 && strcmp(rq->path + n - 3, ".js") == 0)
		rs->content_type = "application/javascript; charset=utf-8";
	else if (n > 4 && strcmp(rq->path + n - 4, ".css") == 0)
		rs->content_type = "text/css; charset=utf-8";
	else
		rs->content_type = "text/html; charset=utf-8";
	rs->raw = page;
	rs->raw_len = sizeof(page) - 1;
}
