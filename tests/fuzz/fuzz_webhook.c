/* fuzz_webhook.c: libFuzzer target for Stripe webhooks: the first line of
 * the input is the Stripe-Signature header, the rest the raw body. The
 * signature check and the event parser must survive anything. */
#include "webhook.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const secrets[] = {"whsec_fuzz_one", "whsec_fuzz_two"};
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
	char *header = malloc(hlen + 1);
	struct ledger_news ev;
	char err[256];
	if (header == NULL)
		return 0;
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	const char *body = nl != NULL ? (const char *)nl + 1 : "";
	size_t blen = nl != NULL ? size - hlen - 1 : 0;
	(void)webhook_verify(header, body, blen, secrets, 2, 1790000000, 300);
	(void)webhook_parse_event(body, blen, &ev, err, sizeof(err));
	free(header);
	return 0;
}
