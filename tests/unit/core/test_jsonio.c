/* test_jsonio.c: the JSON edge refuses every ill-formed or ill-typed input
 * and names the field to blame. */
#include "jsonio.h"
#include "tap.h"
#include <string.h>

static const struct jfield fields[] = {
	{"id", J_STR, 1, 0, 1, 8, NULL},
	{"amount_micros", J_INT, 1, 0, 1, 1000, NULL},
	{"kind", J_ENUM, 0, 0, 0, 0, "user|workspace"},
	{"limit", J_INT, 0, 1, 0, 10, NULL},
	{"when", J_TIME, 0, 0, 0, 0, NULL},
	{"flag", J_BOOL, 0, 0, 0, 0, NULL},
	{"note", J_TEXT, 0, 0, 0, 3, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

static int check(const char *body, struct jerr *e)
{
	json_t *v = jsonio_parse_object(body, strlen(body), e);
	if (v == NULL)
		return -1;
	int rc = jsonio_validate(v, fields, e);
	json_decref(v);
	return rc;
}

static void refused(const char *body, const char *param, const char *why)
{
	struct jerr e;
	int rc = check(body, &e);
	ok(rc != 0, "%s refused", why);
	is_str(e.param, param, "%s names '%s' (%s)", why, param, e.message);
}

int main(void)
{
	struct jerr e;
	ok(check("{\"id\":\"a\",\"amount_micros\":5}", &e) == 0, "minimal body accepted");
	ok(check("{\"id\":\"a\",\"amount_micros\":5,\"kind\":\"user\",\"limit\":null,\"when\":\"2026-11-21T10:00:00Z\","
		 "\"flag\":true}", &e) == 0, "full body accepted");
	refused("{\"id\":\"a\"}", "amount_micros", "missing field");
	refused("{\"id\":\"a\",\"amount_micros\":5,\"balance_micros\":1}", "balance_micros", "unknown field");
	refused("{\"id\":\"a\",\"amount_micros\":5.0}", "amount_micros", "float for micros");
	refused("{\"id\":\"a\",\"amount_micros\":\"5\"}", "amount_micros", "string for micros");
	refused("{\"id\":\"a\",\"amount_micros\":-5}", "amount_micros", "negative amount");
	refused("{\"id\":\"a\",\"amount_micros\":99999999999999999999}", "amount_micros", "int64 overflow");
	refused("{\"id\":\"a\",\"amount_micros\":1001}", "amount_micros", "above range");
	refused("{\"id\":\"abcdefghi\",\"amount_micros\":5}", "id", "over-long string");
	/* A text column's limit counts characters (VARCHAR), an id's bytes. */
	struct jerr te;
	ok(check("{\"id\":\"a\",\"amount_micros\":5,\"note\":\"\u00e9\u00e9\u00e9\"}", &te) == 0,
	   "three two-byte characters fit a text of 3 characters");
	ok(check("{\"id\":\"a\",\"amount_micros\":5,\"note\":\"\xf0\x9f\x98\x80" "\u00e9x\"}", &te) == 0,
	   "a four-byte character is one character");
	refused("{\"id\":\"a\",\"amount_micros\":5,\"note\":\"\u00e9\u00e9\u00e9\u00e9\"}", "note",
		"four characters in a text of 3");
	check("{\"id\":\"a\",\"amount_micros\":5,\"note\":\"abcd\"}", &te);
	is_str(te.message, "note must be 0 to 3 characters long", "a text's limit is said in characters");
	refused("{\"id\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\",\"amount_micros\":5}", "id",
		"five two-byte characters in an id of 8 bytes");
	refused("{\"id\":\"\",\"amount_micros\":5}", "id", "empty string");
	refused("{\"id\":\"a\\u0000b\",\"amount_micros\":5}", "id", "NUL in string");
	refused("{\"id\":\"a\\nb\",\"amount_micros\":5}", "id", "control character");
	refused("{\"id\":\"a\",\"amount_micros\":5,\"kind\":\"robot\"}", "kind", "bad enum");
	refused("{\"id\":\"a\",\"amount_micros\":5,\"when\":\"yesterday\"}", "when", "bad timestamp");
	refused("{\"id\":\"a\",\"amount_micros\":5,\"flag\":1}", "flag", "number for bool");
	refused("{\"id\":null,\"amount_micros\":5}", "id", "null for non-nullable");
	refused("{\"id\":\"\xff\xfe\",\"amount_micros\":5}", "id", "invalid UTF-8");
	refused("{\"id\":\"a\\ud800b\",\"amount_micros\":5}", "id", "a lone surrogate");
	refused("{\"id\":\"a\\qb\",\"amount_micros\":5}", "id", "a bad escape");
	refused("{\"amount_micros\":5,\"id\":\"a\tb\"}", "id", "a raw control character");
	refused("{\"id\":\"a\",\"amount_micros\":9223372036854775808}", "amount_micros", "int64 overflow last");
	/* Nested values are named by their path, as the routes' own checks
	 * name them (alerts[0].micros: docs/api.md, "Threshold alerts"). */
	static const char *const nested[][2] = {
		{"{\"alerts\":[{\"kind\":\"x\",\"micros\":9223372036854775808}]}", "alerts[0].micros"},
		{"{\"alerts\":[{\"kind\":\"x\"},{\"micros\":9223372036854775808,\"kind\":\"y\"}]}", "alerts[1].micros"},
		{"{\"a\":{\"b\":\"x\",\"c\":[1,[2,\"\\ud800\"]]}}", "a.c[1][1]"},
		{"{\"a\":{\"b,}]\":1},\"c\":\"\xff\"}", "c"},
		{"{\"a\":\"\\\"}\",\"b\":tru}", "b"},
		{"{\"a\":1,\"b\\ud800\":2}", ""},
		{"{\"a\":{\"k-1\":99999999999999999999}}", ""},
	};
	for (size_t i = 0; i < sizeof(nested) / sizeof(nested[0]); i++) {
		json_t *v = jsonio_parse_object(nested[i][0], strlen(nested[i][0]), &e);
		ok(v == NULL, "nested case %zu refused", i);
		is_str(e.param, nested[i][1], "nested case %zu names '%s' (%s)", i, nested[i][1], e.message);
	}
	ok(check("{\"id\":\"a\",", &e) != 0, "truncated JSON refused");
	is_str(e.param, "", "a body cut short names no field");
	ok(check("{\"id\":\"a\",}", &e) != 0, "trailing comma refused");
	is_str(e.param, "", "broken syntax names no field");
	ok(check("[1,2]", &e) != 0, "array body refused");
	ok(check("", &e) != 0, "empty body refused");
	ok(check("{\"id\":\"a\",\"id\":\"b\",\"amount_micros\":1}", &e) != 0, "duplicate key refused");
	refused("{\"amount_micros\":1,\"id\":\"a\",\"amount_micros\":2}", "amount_micros",
		"a repeated key names itself, not the key before it");
	ok(check("{\"id\":\"a\",\"amount_micros\":5} x", &e) != 0, "trailing garbage refused");
	is_str(e.param, "", "something after the object names no field");
	/* An unknown key longer than the param buffer, cut inside a two-byte
	 * character: what is quoted back must stay valid UTF-8. */
	char key[200] = "{\"id\":\"a\",\"amount_micros\":5,\"";
	size_t k = strlen(key);
	for (int i = 0; i < 78; i++)
		key[k++] = 'x';
	static const char tail[] = "\xc3\xa9\xc3\xa9\":1}";
	memcpy(key + k, tail, sizeof(tail));
	ok(check(key, &e) != 0, "long unknown key refused");
	json_t *p = json_string(e.param), *m = json_string(e.message);
	ok(p != NULL, "its param is valid UTF-8 (%zu bytes)", strlen(e.param));
	ok(m != NULL, "its message is valid UTF-8");
	json_decref(p);
	json_decref(m);
	char deep[200] = "{\"a\":";
	for (int i = 0; i < 40; i++)
		deep[5 + i] = '[';
	ok(check(deep, &e) != 0, "deep nesting refused");
	json_t *t = jsonio_text("caf\xc3\xa9");
	is_str(json_string_value(t), "caf\xc3\xa9", "valid UTF-8 text is kept");
	json_decref(t);
	t = jsonio_text("bad \xff\xfe id");
	is_str(json_string_value(t), "bad ?? id", "bytes of invalid UTF-8 become '?'");
	json_decref(t);
	ok(jsonio_check_text("abc", 3, 1, 5) == 0, "plain text ok");
	ok(jsonio_check_text("a\x01", 2, 1, 5) != 0, "control byte refused");
	return done_testing();
}
