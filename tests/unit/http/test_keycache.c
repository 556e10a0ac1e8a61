/* test_keycache.c: keys remembered for a second, refusals for half a
 * minute, in bounded tables. */
#include "keycache.h"
#include "tap.h"

static struct keycache cache;
static struct keycache_refused refused;

static void key_of(int n, char *out)
{
	snprintf(out, KEYS_LEN + 1, "crd_%064x", n);
}

static void test_known(void)
{
	char a[KEYS_LEN + 1], b[KEYS_LEN + 1];
	struct key_grant g = {KEY_SCOPE_APP, 42, "alice", "", 0, "", "crd_ab12cd34"}, got;
	key_of(1, a);
	key_of(2, b);
	ok(!keycache_find(&cache, a, 1000, &got), "an empty cache knows nothing");
	keycache_remember(&cache, a, &g, 1000);
	ok(keycache_find(&cache, a, 1000, &got), "a remembered key is found");
	is_int(got.scopes, KEY_SCOPE_APP, "with its scopes");
	is_int(got.account_id, 42, "its binding's id");
	is_str(got.account, "alice", "and its account");
	ok(!keycache_find(&cache, b, 1000, &got), "another key is not");
	ok(!keycache_find(&cache, a, 1000 + LIMIT_KEY_CACHE_SECONDS, &got), "forgotten after LIMIT_KEY_CACHE_SECONDS");
	for (int i = 0; i < LIMIT_KEY_CACHE_SLOTS + 1; i++) {
		char k[KEYS_LEN + 1];
		key_of(100 + i, k);
		keycache_remember(&cache, k, &g, 2000);
	}
	char first[KEYS_LEN + 1], last[KEYS_LEN + 1];
	key_of(100, first);
	key_of(100 + LIMIT_KEY_CACHE_SLOTS, last);
	ok(!keycache_find(&cache, first, 2000, &got), "the oldest slot is reused when the table is full");
	ok(keycache_find(&cache, last, 2000, &got), "the newest is kept");
}

/* A gateway key carries its member and expiry; it is refused from the
 * second it expires, cached or not (docs/decisions.md, "Gateway keys"). */
static void test_gateway_grant(void)
{
	char a[KEYS_LEN + 1];
	struct key_grant g = {KEY_SCOPE_GATEWAY, 7, "acme", "bob", 5000, "gpt-4o-mini,claude-haiku-4-5", "crd_ef56gh78"}, got;
	key_of(4242, a);
	keycache_remember(&cache, a, &g, 4999);
	ok(keycache_find(&cache, a, 4999, &got), "a gateway key is found before it expires");
	is_str(got.member, "bob", "with its member");
	is_int(got.expires_at, 5000, "and its expiry");
	is_str(got.models, "gpt-4o-mini,claude-haiku-4-5", "and the models it may call");
	ok(!keycache_find(&cache, a, 5000, &got), "not from the second it expires, though still cached");
	g.expires_at = 0;
	keycache_remember(&cache, a, &g, 6000);
	ok(keycache_find(&cache, a, 6000, &got), "a key that never expires is found");
}

static void test_refused(void)
{
	char a[KEYS_LEN + 1], b[KEYS_LEN + 1];
	key_of(7, a);
	key_of(8, b);
	ok(!keycache_refused_find(&refused, a, 1000), "nothing refused yet");
	keycache_refuse(&refused, a, 1000);
	ok(keycache_refused_find(&refused, a, 1000), "a refused key is remembered");
	ok(keycache_refused_find(&refused, a, 1000 + LIMIT_KEY_UNKNOWN_SECONDS - 1), "until just before its time");
	ok(!keycache_refused_find(&refused, a, 1000 + LIMIT_KEY_UNKNOWN_SECONDS),
	   "then forgotten: a key created meanwhile works within LIMIT_KEY_UNKNOWN_SECONDS");
	ok(!keycache_refused_find(&refused, b, 1000), "another key is not refused by it");
	ok(LIMIT_KEY_UNKNOWN_SECONDS >= 30 && LIMIT_KEY_UNKNOWN_SECONDS <= 60, "refusals live 30 to 60 s");
	/* A flood of new keys only recycles the slots. */
	for (int i = 0; i < 10 * LIMIT_KEY_UNKNOWN_SLOTS; i++) {
		char k[KEYS_LEN + 1];
		key_of(1000 + i, k);
		keycache_refuse(&refused, k, 3000);
	}
	int kept = 0;
	for (int i = 0; i < 10 * LIMIT_KEY_UNKNOWN_SLOTS; i++) {
		char k[KEYS_LEN + 1];
		key_of(1000 + i, k);
		kept += keycache_refused_find(&refused, k, 3000);
	}
	is_int(kept, LIMIT_KEY_UNKNOWN_SLOTS, "a flood keeps only the newest LIMIT_KEY_UNKNOWN_SLOTS");
	char newest[KEYS_LEN + 1];
	key_of(1000 + 10 * LIMIT_KEY_UNKNOWN_SLOTS - 1, newest);
	ok(keycache_refused_find(&refused, newest, 3000), "the newest refusal among them");
}

int main(void)
{
	test_known();
	test_gateway_grant();
	test_refused();
	return done_testing();
}
