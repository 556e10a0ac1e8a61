/* fuzz_config.c: libFuzzer target for the config loader: any text as a
 * config file must load or fail with a message, never crash or leak. */
#include "config.h"
#include "unit/core/config_modules.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char err[512];
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(text, test_modules, &c, err, sizeof(err)) == 0)
		(void)stripe_config_redirect_allowed(stripe_config_of(&c), "https://app.example.com/x");
	config_free(&c);
	free(text);
	return 0;
}
