/* test_keys.c: API keys are long, random, recognisable and hashed. */
#include "keys.h"
#include "tap.h"

int main(void)
{
	char a[KEYS_LEN + 1], b[KEYS_LEN + 1], hex[65];
	unsigned char h[KEYS_HASH_LEN];

	ok(keys_generate(a) == 0 && keys_generate(b) == 0, "keys generated");
	is_int(strlen(a), KEYS_LEN, "key length");
	ok(strncmp(a, "crd_", 4) == 0, "recognisable prefix");
	ok(strcmp(a, b) != 0, "two keys differ");
	ok(keys_wellformed(a), "generated key is well-formed");
	ok(keys_equal(a, a), "a key equals itself");
	ok(!keys_equal(a, b), "two keys differ");
	ok(!keys_wellformed("crd_short"), "short key refused");
	ok(!keys_wellformed(NULL), "NULL refused");
	b[10] = 'G';
	ok(!keys_wellformed(b), "non-hex character refused");
	b[0] = 'x';
	ok(!keys_wellformed(b), "wrong prefix refused");

	keys_sha256("abc", 3, h);
	keys_hex(h, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256 known answer");

	is_str(keys_bearer("Bearer crd_x"), "crd_x", "bearer token extracted");
	is_str(keys_bearer("bearer  crd_x"), "crd_x", "scheme is case-insensitive");
	ok(keys_bearer("Basic abc") == NULL, "other scheme refused");
	ok(keys_bearer(NULL) == NULL, "no header");

	is_int(keys_parse_scopes("guard"), KEY_SCOPE_GUARD, "guard scope");
	is_int(keys_parse_scopes("read,admin"), KEY_SCOPE_READ | KEY_SCOPE_ADMIN, "two scopes");
	is_int(keys_parse_scopes("root"), -1, "unknown scope refused");
	is_int(keys_parse_scopes(""), -1, "empty list refused");
	ok(keys_allows(KEY_SCOPE_ADMIN, KEY_SCOPE_GUARD), "admin may use guard routes");
	ok(!keys_allows(KEY_SCOPE_READ, KEY_SCOPE_ADMIN), "read may not use admin routes");
	ok(!keys_allows(KEY_SCOPE_GUARD, KEY_SCOPE_READ), "guard may not read accounts");
	ok(keys_allows(KEY_SCOPE_READ, 0), "open routes need nothing");
	return done_testing();
}
