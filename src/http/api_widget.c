/* api_widget.c: GET /widget/creditd-widget.js, the widget's script
 * (widget/creditd-widget.js), built into the binary so that creditd
 * serves the very script of its own version wherever it is mounted, with
 * no file to install or keep in step. Cached by browsers for an hour and
 * revalidated by its ETag (a hash of its bytes). */
#include "api.h"
#include "keys.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef CREDITD_WIDGET_JS
#error "CREDITD_WIDGET_JS must name widget/creditd-widget.js (Makefile.am sets it)"
#endif

__asm__(".section .rodata\n"
	".global api_widget_script\n"
	".type api_widget_script, @object\n"
	"api_widget_script:\n"
	".incbin \"" CREDITD_WIDGET_JS "\"\n"
	".global api_widget_script_end\n"
	".type api_widget_script_end, @object\n"
	"api_widget_script_end:\n"
	".byte 0\n"
	".previous\n");
extern const char api_widget_script[], api_widget_script_end[];

static char etag[24];
static pthread_once_t etag_once = PTHREAD_ONCE_INIT;

static void etag_make(void)
{
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	keys_sha256(api_widget_script, (size_t)(api_widget_script_end - api_widget_script), hash);
	keys_hex(hash, hex);
	snprintf(etag, sizeof(etag), "\"%.16s\"", hex);
}

void api_widget_js(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)ctx;
	(void)params;
	pthread_once(&etag_once, etag_make);
	rs->content_type = "application/javascript; charset=utf-8";
	rs->cache_control = "public, max-age=3600";
	rs->etag = etag;
	if (rq->if_none_match != NULL && strstr(rq->if_none_match, etag) != NULL) {
		rs->status = 304;
		return;
	}
	rs->status = 200;
	rs->raw = api_widget_script;
	rs->raw_len = (size_t)(api_widget_script_end - api_widget_script);
}
