/* test_keys.c: API keys are long, random, recognisable and hashed. */
#include "keys.h"
#include "tap.h"

static void test_tokens(void)
{
	char t[KEYS_TOKEN_MAX + 1], acct[200], who[200], forged[KEYS_TOKEN_MAX + 1];
	ok(keys_token_make("s3cret", "alice é/1", NULL, 2000, t, sizeof(t)) == 0, "a token made: %s", t);
	ok(strncmp(t, "cdw1.", 5) == 0, "its prefix");
	is_int(keys_token_check("s3cret", t, 1999, acct, who, sizeof(acct)), KEYS_TOKEN_OK, "checks out before expiry");
	is_str(acct, "alice é/1", "names its account");
	is_str(who, "", "and no member");
	is_int(keys_token_check("s3cret", t, 2000, acct, who, sizeof(acct)), KEYS_TOKEN_EXPIRED, "expired at its time");
	is_int(keys_token_check("other", t, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED, "another secret: forged");
	/* Another account or expiry under the old signature. */
	ok(keys_token_make("s3cret", "bob", NULL, 2000, forged, sizeof(forged)) == 0, "bob's token");
	char swapped[KEYS_TOKEN_MAX * 2];
	snprintf(swapped, sizeof(swapped), "%.*s%s", (int)(strrchr(forged, '.') - forged), forged, strrchr(t, '.'));
	is_int(keys_token_check("s3cret", swapped, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED,
	       "bob's payload with alice's signature");
	snprintf(forged, sizeof(forged), "%s", t);
	char *exp = strchr(forged + 5, '.') + 1;
	exp[0] = '9';
	is_int(keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED, "a longer life: forged");
	snprintf(forged, sizeof(forged), "%s", t);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
	is_int(keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED, "a changed signature");
	/* The last of a signature's 43 characters carries 4 bits and 2 unused
	 * ones: every change of it, those bits too, is a forgery (a decoder
	 * that ignored them let a flipped token through). */
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int passed = 0;
	for (int c = 0; c < 64; c++) {
		snprintf(forged, sizeof(forged), "%s", t);
		if (forged[strlen(forged) - 1] == b64url[c])
			continue;
		forged[strlen(forged) - 1] = b64url[c];
		passed += keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)) == KEYS_TOKEN_OK;
	}
	is_int(passed, 0, "no other last character of the signature checks out");
	const char *bad[] = {"", "cdw1.", "cdw1.a.b", "cdw2.YQ.99.x", "crd_0000", "cdw1..1.sig", "cdw1.YQ.1.sig.more",
			     "cdw1.YQ..sig"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(keys_token_check("s3cret", bad[i], 0, acct, who, sizeof(acct)) != KEYS_TOKEN_OK, "refused: '%s'", bad[i]);
	ok(keys_token_check("", t, 0, acct, who, sizeof(acct)) != KEYS_TOKEN_OK, "no secret: nothing checks out");
	ok(keys_token_make("", "a", NULL, 1, t, sizeof(t)) != 0, "no secret: no token");
	ok(keys_token_make("s", "", NULL, 1, t, sizeof(t)) != 0, "no account: no token");
}

/* docs/api.md, "Widget": a token may name a member, signed with the rest. */
static void test_member_tokens(void)
{
	char t[KEYS_TOKEN_MAX + 1], plain[KEYS_TOKEN_MAX + 1], acct[200], who[200], forged[KEYS_TOKEN_MAX * 2];
	char longest[KEYS_TOKEN_ID_MAX + 2];
	ok(keys_token_make("s3cret", "ws-1", "bob é", 2000, t, sizeof(t)) == 0, "a member's token: %s", t);
	ok(strncmp(t, "cdw2.", 5) == 0, "its prefix");
	is_int(keys_token_check("s3cret", t, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_OK, "checks out");
	is_str(acct, "ws-1", "names its account");
	is_str(who, "bob é", "and its member");
	/* The member dropped: the account's own token under the member's signature. */
	ok(keys_token_make("s3cret", "ws-1", NULL, 2000, plain, sizeof(plain)) == 0, "the account's token");
	snprintf(forged, sizeof(forged), "%.*s%s", (int)(strrchr(plain, '.') - plain), plain, strrchr(t, '.'));
	is_int(keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED,
	       "the member dropped: forged");
	/* Another member under the same signature. */
	snprintf(forged, sizeof(forged), "%s", t);
	char *m = strchr(forged + 5, '.') + 1;
	m[0] = m[0] == 'A' ? 'B' : 'A';
	is_int(keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_FORGED,
	       "another member: forged");
	/* The version changed, so that the member reads as the expiry. */
	snprintf(forged, sizeof(forged), "cdw1.%s", t + 5);
	ok(keys_token_check("s3cret", forged, 1000, acct, who, sizeof(acct)) != KEYS_TOKEN_OK, "cdw1 with a member: refused");
	is_int(keys_token_check("s3cret", t, 2000, acct, who, sizeof(acct)), KEYS_TOKEN_EXPIRED, "expires as any");
	memset(longest, 'x', KEYS_TOKEN_ID_MAX);
	longest[KEYS_TOKEN_ID_MAX] = '\0';
	ok(keys_token_make("s3cret", longest, longest, INT64_MAX, t, sizeof(t)) == 0, "the longest ids fit");
	is_int(keys_token_check("s3cret", t, 1000, acct, who, sizeof(acct)), KEYS_TOKEN_OK, "and check out");
	longest[KEYS_TOKEN_ID_MAX] = 'x';
	longest[KEYS_TOKEN_ID_MAX + 1] = '\0';
	ok(keys_token_make("s3cret", "a", longest, 2000, t, sizeof(t)) != 0, "a member too long: no token");
	ok(keys_token_make("s3cret", "a", "", 2000, t, sizeof(t)) != 0, "an empty member: no token");
}

/* docs/api.md, "Keys: scopes and bound keys": guard, read, app (read plus
 * what an app starts for its end user), admin (everything). */
static void test_scopes(void)
{
	char out[64];
	is_int(keys_parse_scopes("app"), KEY_SCOPE_APP, "app scope parsed");
	is_int(keys_parse_scopes("read,app"), KEY_SCOPE_READ | KEY_SCOPE_APP, "read and app");
	is_int(keys_parse_scopes("guard,read,app,admin,gateway"), KEY_SCOPES_ALL, "all five");
	is_int(keys_parse_scopes("gateway"), KEY_SCOPE_GATEWAY, "gateway scope parsed");
	is_int(KEY_SCOPE_GATEWAY, 16, "the gateway bit is new, the others keep theirs (stored in api_keys.scopes)");
	ok(KEY_SCOPE_GUARD == 1 && KEY_SCOPE_READ == 2 && KEY_SCOPE_ADMIN == 4 && KEY_SCOPE_APP == 8,
	   "the stored bits are never renumbered");
	is_int(keys_parse_scopes("ap"), -1, "a prefix of a scope is refused");
	is_int(keys_parse_scopes("apps"), -1, "a longer name is refused");
	is_int(keys_parse_scopes("read,"), -1, "an empty name after a comma is refused");
	is_int(keys_parse_scopes(",read"), -1, "an empty name before a comma is refused");
	is_int(keys_parse_scopes(NULL), -1, "no list");
	keys_format_scopes(KEY_SCOPE_APP, out, sizeof(out));
	is_str(out, "app", "app formatted");
	keys_format_scopes(KEY_SCOPES_ALL, out, sizeof(out));
	is_str(out, "guard,read,app,admin,gateway", "all formatted in order");
	keys_format_scopes(KEY_SCOPE_READ | KEY_SCOPE_ADMIN, out, sizeof(out));
	is_str(out, "read,admin", "two formatted");
	keys_format_scopes(KEY_SCOPES_ALL, out, 8);
	ok(strlen(out) < 8, "a short buffer is not overrun: '%s'", out);
	is_int(keys_parse_scopes("guard,read,app,admin"), keys_parse_scopes("admin,app,read,guard"), "order is free");
	is_str(keys_scope_name(KEY_SCOPE_APP), "app", "app's name");
	is_str(keys_scope_name(KEY_SCOPE_GATEWAY), "gateway", "gateway's name");
	is_str(keys_scope_name(KEY_SCOPE_GUARD), "guard", "guard's name");

	/* What each scope may use: rows are keys, columns routes needing
	 * guard, read, app, admin, and the gateway's (guard or gateway). */
	const int scopes[] = {KEY_SCOPE_GUARD, KEY_SCOPE_READ, KEY_SCOPE_APP, KEY_SCOPE_ADMIN, KEY_SCOPE_GATEWAY};
	const int routes[] = {KEY_SCOPE_GUARD, KEY_SCOPE_READ, KEY_SCOPE_APP, KEY_SCOPE_ADMIN,
			      KEY_SCOPE_GUARD | KEY_SCOPE_GATEWAY};
	const int want[5][5] = {
		{1, 0, 0, 0, 1},	/* guard: the guard routes and the gateway's */
		{0, 1, 0, 0, 0},	/* read: GET routes; no top-up, redeem or browser token */
		{0, 1, 1, 0, 0},	/* app: what read does, plus those */
		{1, 1, 1, 1, 1},	/* admin: everything */
		{0, 0, 0, 0, 1},	/* gateway: the gateway's routes only */
	};
	for (int k = 0; k < 5; k++)
		for (int r = 0; r < 5; r++)
			is_int(keys_allows(scopes[k], routes[r]), want[k][r], "a %s key on a route needing %d",
			       keys_scope_name(scopes[k]), routes[r]);
	ok(keys_allows(KEY_SCOPE_GATEWAY, 0), "open routes need nothing of a gateway key");
	ok(keys_allows(KEY_SCOPE_GUARD | KEY_SCOPE_APP, KEY_SCOPE_GUARD), "guard,app may guard");
	ok(keys_allows(KEY_SCOPE_GUARD | KEY_SCOPE_APP, KEY_SCOPE_READ), "guard,app may read");
	ok(!keys_allows(KEY_SCOPE_GUARD | KEY_SCOPE_APP, KEY_SCOPE_ADMIN), "guard,app may not administer");
	ok(keys_allows(KEY_SCOPE_APP, 0), "open routes need nothing of an app key");
}

/* Models per key (docs/gateway.md, "What a key holder can and cannot do"):
 * what a key may list, and what it may call. */
static void test_models(void)
{
	char many[2 * LIMIT_KEY_MODELS_BYTES], name[LIMIT_NAME_BYTES + 2];
	ok(keys_model_allowed("", "gpt-4o"), "no list: any model");
	ok(keys_model_allowed("gpt-4o-mini,gpt-4o", "gpt-4o"), "a listed model, last");
	ok(keys_model_allowed("gpt-4o-mini,gpt-4o", "gpt-4o-mini"), "a listed model, first");
	ok(!keys_model_allowed("gpt-4o-mini,gpt-4o", "gpt-4"), "a prefix of a listed one is not it");
	ok(!keys_model_allowed("gpt-4o-mini", "gpt-4o-mini-2024"), "nor a longer name");
	ok(!keys_model_allowed("gpt-4o-mini", ""), "nor no name");
	ok(keys_models_check("gpt-4o-mini,claude-haiku-4-5") == NULL, "a list of two names");
	ok(keys_models_check("") != NULL, "an empty list is refused");
	ok(keys_models_check("a,,b") != NULL, "an empty name is refused");
	ok(keys_models_check("a,b c") != NULL, "a space is refused");
	ok(keys_models_check("a,b\tc") != NULL, "a control character is refused");
	memset(name, 'm', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ok(keys_models_check(name) != NULL, "a name of 65 bytes is refused");
	name[LIMIT_NAME_BYTES] = '\0';
	ok(keys_models_check(name) == NULL, "one of 64 is not");
	many[0] = '\0';
	for (int i = 0; i < LIMIT_KEY_MODELS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sm%d", i > 0 ? "," : "", i);
	ok(keys_models_check(many) == NULL, "16 models");
	snprintf(many + strlen(many), sizeof(many) - strlen(many), ",m16");
	ok(keys_models_check(many) != NULL, "17 are refused");
}

/* Request ids come from a thread's pool of random bytes: each byte used
 * once, across refills, in hex; more than a pool holds is refused. */
static void test_random_ids(void)
{
	enum { N = 3 * LIMIT_RANDOM_ID_POOL_BYTES / LIMIT_X_REQUEST_ID_RANDOM_BYTES + 5 };
	static char ids[N][2 * LIMIT_X_REQUEST_ID_RANDOM_BYTES + 1];
	int bad = 0, same = 0;
	for (int i = 0; i < N; i++) {
		bad |= keys_random_id_hex(ids[i], LIMIT_X_REQUEST_ID_RANDOM_BYTES) != 0;
		bad |= strlen(ids[i]) != 2 * LIMIT_X_REQUEST_ID_RANDOM_BYTES ||
		       strspn(ids[i], "0123456789abcdef") != strlen(ids[i]);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < i; j++)
			same += strcmp(ids[i], ids[j]) == 0;
	ok(!bad, "%d request ids over three refills, each 16 hex digits", N);
	is_int(same, 0, "no two alike");
	char big[2 * LIMIT_RANDOM_ID_POOL_BYTES + 3];
	ok(keys_random_id_hex(big, LIMIT_RANDOM_ID_POOL_BYTES) == 0, "a whole pool at once");
	ok(keys_random_id_hex(big, LIMIT_RANDOM_ID_POOL_BYTES + 1) != 0, "more than a pool: refused");
}

int main(void)
{
	test_models();
	test_random_ids();
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
	test_scopes();
	test_tokens();
	test_member_tokens();
	return done_testing();
}
