/* fuzz_json.c: libFuzzer target for the JSON edge (jsonio): any bytes as a
 * request body, parsed and checked against a field table like the guard's.
 * A crash, a leak or undefined behaviour here is a bug at the edge. */
#include "jsonio.h"
#include "limits.h"
#include <stddef.h>
#include <stdint.h>

static const struct jfield fields[] = {
	{"account", J_STR, 1, 0, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"member", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"model", J_STR, 0, 0, 1, LIMIT_NAME_BYTES, NULL},
	{"input_tokens", J_INT, 0, 0, 0, LIMIT_TOKENS_MAX, NULL},
	{"ttl_seconds", J_INT, 0, 1, 1, LIMIT_HOLD_TTL_MAX_SECONDS, NULL},
	{"byok", J_BOOL, 0, 1, 0, 0, NULL},
	{"kind", J_ENUM, 0, 0, 0, 0, "user|workspace"},
	{"expires_at", J_TIME, 0, 1, 0, 0, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jerr e;
	if (size > LIMIT_BODY_DEFAULT_BYTES)
		return 0;
	json_t *v = jsonio_parse_object((const char *)data, size, &e);
	if (v != NULL) {
		if (jsonio_validate(v, fields, &e) == 0) {
			(void)jsonio_str(v, "account");
			(void)jsonio_int(v, "input_tokens", 0);
		}
		char *text = jsonio_dump(v);
		free(text);
		json_decref(v);
	}
	return 0;
}
