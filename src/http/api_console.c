/* api_console.c: GET {base}/console/ and its assets (console.js,
 * console_account.js, console.css): the operator's console's page (docs/operations.md,
 * "Console"), from the console/ folder, built into the binary as the
 * widget's script is (api_widget.c), so that creditd serves the very page
 * of its own version wherever it is mounted (nginx, Apache, mod_fcgid
 * alike), with no file to install. Every answer carries the console's
 * security headers (API_CONSOLE_HEADERS: a Content-Security-Policy with
 * no inline script, no framing). The page is not stored; its script and
 * style are revalidated by their ETag (a hash of their bytes) on each
 * load, so a new version is seen at once. */
#include "api.h"
#include "keys.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef CREDITD_CONSOLE_DIR
#error "CREDITD_CONSOLE_DIR must name the console/ folder (Makefile.am sets it)"
#endif

#define CONSOLE_ASSET(sym, file)                          \
	".global " sym "\n.type " sym ", @object\n" sym ":\n" \
	".incbin \"" CREDITD_CONSOLE_DIR "/" file "\"\n"      \
	".global " sym "_end\n.type " sym "_end, @object\n" sym "_end:\n.byte 0\n"

__asm__(".section .rodata\n" CONSOLE_ASSET("api_console_html", "index.html")
		CONSOLE_ASSET("api_console_js", "console.js") CONSOLE_ASSET("api_console_account_js", "console_account.js")
		CONSOLE_ASSET("api_console_css", "console.css") ".previous\n");
extern const char api_console_html[], api_console_html_end[];
extern const char api_console_js[], api_console_js_end[];
extern const char api_console_account_js[], api_console_account_js_end[];
extern const char api_console_css[], api_console_css_end[];

static const struct asset {
	const char *name;	/* the path's last segment; "" for the page */
	const char *bytes, *end;
	const char *type;
	const char *cache;
} assets[] = {
	{"", api_console_html, api_console_html_end, "text/html; charset=utf-8", "no-store"},
	{"console.js", api_console_js, api_console_js_end, "application/javascript; charset=utf-8", "no-cache"},
	{"console_account.js", api_console_account_js, api_console_account_js_end, "application/javascript; charset=utf-8",
	 "no-cache"},
	{"console.css", api_console_css, api_console_css_end, "text/css; charset=utf-8", "no-cache"},
};
#define ASSETS (sizeof(assets) / sizeof(assets[0]))

static char etags[ASSETS][24];
static pthread_once_t etag_once = PTHREAD_ONCE_INIT;

static void etags_make(void)
{
	for (size_t i = 0; i < ASSETS; i++) {
		unsigned char hash[KEYS_HASH_LEN];
		char hex[2 * KEYS_HASH_LEN + 1];
		keys_sha256(assets[i].bytes, (size_t)(assets[i].end - assets[i].bytes), hash);
		keys_hex(hash, hex);
		snprintf(etags[i], sizeof(etags[i]), "\"%.16s\"", hex);
	}
}

void api_console_page(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	const char *slash = strrchr(rq->path, '/');
	const char *last = slash != NULL ? slash + 1 : rq->path;
	size_t i = 0;
	(void)ctx;
	(void)params;
	pthread_once(&etag_once, etags_make);
	while (i + 1 < ASSETS && strcmp(assets[i].name, last) != 0)
		i++;
	if (strcmp(assets[i].name, last) != 0)
		i = 0;
	rs->console = 1;
	rs->content_type = assets[i].type;
	rs->cache_control = assets[i].cache;
	if (i > 0) {
		rs->etag = etags[i];
		if (rq->if_none_match != NULL && strstr(rq->if_none_match, etags[i]) != NULL) {
			rs->status = 304;
			return;
		}
	}
	rs->status = 200;
	rs->raw = assets[i].bytes;
	rs->raw_len = (size_t)(assets[i].end - assets[i].bytes);
}
