/* api_gwhook.c: POST /v1/webhooks/openai, OpenAI's webhooks
 * (docs/gateway.md, "Background responses"; docs/api.md): a background
 * run's end told by its provider, signed by the Standard Webhooks scheme
 * with [gateway] openai_webhook_secret. The gateway checks it and moves
 * the run's poll to now; the poll's thread, woken, asks the provider for
 * the response and settles the run. A webhook is never trusted for a
 * figure: it names a response id, nothing more.
 *
 * Never: SQL, FastCGI or curl; logs the body or the signature. */
#include "api.h"
#include "bgpoll.h"
#include "gwbackground.h"
#include <jansson.h>

void api_gw_hook(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int wake = 0;
	const char *why = NULL;
	(void)params;
	int status = gwbackground_hook(ctx->db, rq->webhook_id, rq->webhook_timestamp, rq->webhook_signature, rq->body,
				       rq->body_len, &wake, &why);
	if (wake)
		bgpoll_wake();
	if (status == 404)
		api_error(rs, CD_E_NOT_FOUND, NULL, "OpenAI's webhooks are taken once [gateway] openai_webhook_secret is set");
	else if (status == 400)
		api_error(rs, CD_E_INVALID, "webhook-signature", "bad OpenAI webhook signature: %s", why);
	else if (status != 200)
		api_fail(rs, CD_E_UNAVAILABLE, "background run");
	else
		api_json(rs, 200, json_pack("{s:b}", "received", 1));
}
