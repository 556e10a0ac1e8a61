/* api_console.c: GET {base}/console/ and its assets (console.js,
 * console.css): the operator's console's page (docs/operations.md,
 * "Console"). Every answer carries the console's security headers
 * (API_CONSOLE_HEADERS: a Content-Security-Policy with no inline script,
 * no framing) and is not stored. For now a placeholder page: the page
 * itself and its assets, built into the binary, take its place. */
#include "api.h"

void api_console_page(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	static const char page[] = "console";
	(void)ctx;
	(void)rq;
	(void)params;
	rs->console = 1;
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	rs->raw = page;
	rs->raw_len = sizeof(page) - 1;
}
