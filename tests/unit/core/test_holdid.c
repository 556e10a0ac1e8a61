/* test_holdid.c: hold ids cannot be guessed (docs/decisions.md, "Hold ids"): made under a
 * key, read back to their numbers, refused when changed; the old form
 * only for holds made before the key. */
#include "holdid.h"
#include "tap.h"
#include <inttypes.h>
#include <string.h>

static void test_before_a_key(void)
{
	char id[64];
	int64_t a, h;
	holdid_format(id, sizeof(id), 7, 11);
	is_str(id, "hold_7_11", "no key yet: the old form");
	ok(holdid_parse("hold_7_11", &a, &h) == 0 && a == 7 && h == 11, "read back");
	ok(holdid_parse("hold_7_011", &a, &h) != 0, "a leading zero: no hold id");
	ok(holdid_parse("hold_0_11", &a, &h) != 0, "account 0: no hold id");
	ok(holdid_parse("hold_7_99999999999999999999", &a, &h) != 0, "past 2^63: no hold id");
}

static void test_under_a_key(void)
{
	const uint8_t key[HOLDID_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	char id[64], next[64], forged[64];
	int64_t a, h;
	ok(holdid_set_key(key, 100) == 0, "a key, holds from 100 under it");
	holdid_format(id, sizeof(id), 7, 100);
	holdid_format(next, sizeof(next), 7, 101);
	is_int((long long)strlen(id), 5 + HOLDID_HEX, "hold_ and 32 hex digits: %s", id);
	ok(strncmp(id, "hold_", 5) == 0 && strspn(id + 5, "0123456789abcdef") == HOLDID_HEX, "its shape");
	ok(strstr(id, "_7_") == NULL && strstr(id, "100") == NULL, "neither number shows");
	int same = 0;
	for (int i = 5; i < 5 + HOLDID_HEX; i++)
		same += id[i] == next[i];
	ok(same < 16, "the next hold's id shares no pattern with it (%d of 32 digits alike): %s", same, next);
	ok(holdid_parse(id, &a, &h) == 0 && a == 7 && h == 100, "read back to account 7, hold 100");
	ok(holdid_parse(next, &a, &h) == 0 && a == 7 && h == 101, "the next one too");
	snprintf(forged, sizeof(forged), "%s", id);
	forged[10] = forged[10] == 'a' ? 'b' : 'a';
	ok(holdid_parse(forged, &a, &h) != 0 || a != 7 || h != 100, "one digit changed: not that hold");
	int found = 0;
	for (int i = 0; i < 4096; i++) {		/* random guesses never land on a plausible hold */
		snprintf(forged, sizeof(forged), "hold_%08x%08x%08x%08x", i * 2654435761u, i, ~i, i * 40503u);
		found += holdid_parse(forged, &a, &h) == 0 && a < 1000000 && h < 1000000000;
	}
	is_int(found, 0, "4096 made-up ids: none names a hold of a small ledger");
	ok(holdid_parse("hold_7_99", &a, &h) == 0 && h == 99, "the old form of a hold made before the key");
	ok(holdid_parse("hold_7_100", &a, &h) != 0, "not of one made under it: counting gets nowhere");
	ok(holdid_parse("hold_7_101", &a, &h) != 0, "nor the next");
	ok(holdid_parse_plain("hold_7_101", &a, &h) == 0 && h == 101, "what creditd itself stored reads plainly");
	ok(holdid_parse("hold_ZZ", &a, &h) != 0 && holdid_parse(NULL, &a, &h) != 0, "junk and NULL: no hold id");
	const uint8_t other[HOLDID_KEY_BYTES] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	holdid_set_key(other, 100);
	ok(holdid_parse(id, &a, &h) != 0 || a != 7 || h != 100, "another database's key: not that hold");
}

int main(void)
{
	test_before_a_key();
	test_under_a_key();
	return done_testing();
}
