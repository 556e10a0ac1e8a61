/* test_authlimit.c: failed authentications counted per address in a
 * minute from the first, refused past the limit until the minute ends,
 * in a bounded table that never grows. */
#include "authlimit.h"
#include "tap.h"
#include <stdio.h>

static void test_window(void)
{
	authlimit_reset();
	for (int i = 1; i < 3; i++) {
		ok(authlimit_wait("192.0.2.1", 3, 1000) == 0, "failure %d: not throttled yet", i);
		ok(authlimit_failed("192.0.2.1", 3, 1000) == 0, "failure %d: below the limit", i);
	}
	ok(authlimit_failed("192.0.2.1", 3, 1010) == 1, "the third failure reaches the limit");
	is_int(authlimit_wait("192.0.2.1", 3, 1010), 50, "refused for the rest of the window from the first failure");
	is_int(authlimit_wait("192.0.2.1", 3, 1059), 1, "one second left at its end");
	is_int(authlimit_wait("192.0.2.1", 3, 1060), 0, "the window is over a minute after the first failure");
	ok(authlimit_failed("192.0.2.1", 3, 1060) == 0, "a failure after it starts a new window");
	is_int(authlimit_wait("192.0.2.2", 3, 1010), 0, "another address is not throttled");
	ok(authlimit_failed("192.0.2.1", 3, 1061) == 0, "two failures in the new window");
	ok(authlimit_failed("192.0.2.1", 3, 1061) == 1, "three reach the limit again");
	is_int(authlimit_wait("192.0.2.1", 3, 1000), 0, "a clock that went back ends the window");
	struct authlimit_totals t;
	authlimit_totals(&t);
	is_int((long long)t.failures, 6, "every failure counted");
	is_int((long long)t.throttled, 2, "every refusal counted");
	is_int((long long)t.lookups, 0, "no look-up counted here");
	authlimit_looked_up();
	authlimit_totals(&t);
	is_int((long long)t.lookups, 1, "a look-up counted");
}

static void test_limit_zero_and_no_address(void)
{
	authlimit_reset();
	for (int i = 0; i < 100; i++)
		authlimit_failed("192.0.2.9", 0, 2000);
	is_int(authlimit_wait("192.0.2.9", 0, 2000), 0, "limit 0: never throttled");
	is_int(authlimit_wait("192.0.2.9", 1, 2000), 0, "limit 0 kept no address");
	struct authlimit_totals t;
	authlimit_totals(&t);
	is_int((long long)t.failures, 100, "limit 0 still counts failures in the totals");
	ok(authlimit_failed(NULL, 1, 2000) == 1, "no address is an address of its own");
	ok(authlimit_wait("", 1, 2000) > 0, "the empty address is the same one");
	ok(authlimit_wait("192.0.2.9", 1, 2000) == 0, "and not another's");
	char longer[200];
	snprintf(longer, sizeof(longer), "%0190d", 7);
	ok(authlimit_failed(longer, 1, 2000) == 1, "an over-long text counts by its first bytes");
	longer[LIMIT_AUTH_ADDRESS_BYTES + 5] = 'x';
	ok(authlimit_wait(longer, 1, 2000) > 0, "bytes past the slot's size do not make another address");
}

static void test_table_bounded(void)
{
	char addr[64];
	authlimit_reset();
	authlimit_failed("198.51.100.1", 2, 3000);
	authlimit_failed("198.51.100.1", 2, 3000);
	ok(authlimit_wait("198.51.100.1", 2, 3000) > 0, "the first address is throttled");
	for (int i = 0; i < LIMIT_AUTH_ADDRESS_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:0:%x::1", i);
		authlimit_failed(addr, 2, 3001);
	}
	ok(authlimit_wait("198.51.100.1", 2, 3001) > 0, "a flood of new addresses does not free a throttled one");
	snprintf(addr, sizeof(addr), "2001:db8:0:%x::1", LIMIT_AUTH_ADDRESS_SLOTS - 1);
	ok(authlimit_failed(addr, 2, 3001) == 1, "the newest addresses keep their counts");
}

static void test_ipv6_by_its_64(void)
{
	authlimit_reset();
	ok(authlimit_failed("2001:db8:1:2::a", 3, 4000) == 0, "one address of a /64");
	ok(authlimit_failed("2001:db8:1:2:ffff::b", 3, 4000) == 0, "another of the same /64");
	ok(authlimit_failed("2001:0db8:0001:0002:0:0:0:c", 3, 4000) == 1, "a third, written long: the same /64");
	ok(authlimit_wait("2001:db8:1:2::d", 3, 4000) > 0, "the whole /64 is throttled");
	is_int(authlimit_wait("2001:db8:1:3::a", 3, 4000), 0, "the next /64 is not");
	is_int(authlimit_wait("192.0.2.44", 3, 4000), 0, "nor an IPv4 address");
}

int main(void)
{
	test_window();
	test_limit_zero_and_no_address();
	test_table_bounded();
	test_ipv6_by_its_64();
	return done_testing();
}
