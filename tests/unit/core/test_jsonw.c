/* test_jsonw.c: the JSON writer places commas, escapes strings, writes
 * null for absent values and hex for bytes; what it writes parses back
 * (jansson) to the same values; a buffer past its maximum stays failed. */
#include "jsonw.h"
#include "tap.h"
#include <jansson.h>
#include <string.h>

int main(void)
{
	struct dynbuf b;
	struct jw j;
	dynbuf_init(&b, 4096);
	jsonw_init(&j, &b);
	jsonw_open(&j, '{');
	jsonw_key(&j, "n");
	jsonw_i64(&j, INT64_MIN);
	jsonw_array(&j, "rows");
	jsonw_open(&j, '[');
	jsonw_i64(&j, 1);
	jsonw_str(&j, NULL);
	jsonw_str(&j, "a\"b\\c\n\x01é");
	jsonw_close(&j, ']');
	jsonw_open(&j, '[');
	jsonw_hex(&j, (const unsigned char *)"\x00\xff\x10", 3);
	jsonw_hex(&j, NULL, 3);
	jsonw_close(&j, ']');
	jsonw_close(&j, ']');
	jsonw_array(&j, "empty");
	jsonw_close(&j, ']');
	jsonw_array(&j, "raw");
	jsonw_raw(&j, "[1],[2]", 7);
	jsonw_raw(&j, "", 0);
	jsonw_raw(&j, "[3]", 3);
	jsonw_close(&j, ']');
	jsonw_close(&j, '}');
	ok(!b.failed, "written");
	is_str(b.data, "{\"n\":-9223372036854775808,\"rows\":[[1,null,\"a\\\"b\\\\c\\u000a\\u0001é\"],"
	       "[\"00ff10\",null]],\"empty\":[],\"raw\":[[1],[2],[3]]}", "the text");
	json_error_t err;
	json_t *v = json_loads(b.data, 0, &err);
	ok(v != NULL, "it parses: %s", v == NULL ? err.text : "");
	json_t *s = json_array_get(json_array_get(json_object_get(v, "rows"), 0), 2);
	is_str(json_string_value(s), "a\"b\\c\n\x01é", "a string comes back as written");
	is_int(json_integer_value(json_object_get(v, "n")), INT64_MIN, "the smallest int64");
	json_decref(v);

	dynbuf_init(&b, 8);
	jsonw_init(&j, &b);
	jsonw_open(&j, '[');
	jsonw_str(&j, "0123456789");
	jsonw_close(&j, ']');
	ok(b.failed, "past the maximum the buffer is failed");

	dynbuf_init(&b, 4096);
	jsonw_init(&j, &b);
	for (int i = 0; i < JW_DEPTH + 1; i++)
		jsonw_open(&j, '[');
	ok(b.failed, "nesting past JW_DEPTH fails the buffer");
	dynbuf_free(&b);
	return done_testing();
}
