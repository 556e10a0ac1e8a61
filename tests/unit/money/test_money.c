/* test_money.c: the checked arithmetic of money.c: sums inside
 * ±LIMIT_BALANCE_MICROS_MAX are exact, sums that would leave it (or wrap
 * int64) are refused and leave the output alone, and the three-counter
 * comparisons are exact at the extremes of int64. */
#include "money.h"
#include "tap.h"

#define M LIMIT_BALANCE_MICROS_MAX

int main(void)
{
	int64_t out = 42;
	ok(money_in_range(M) && money_in_range(-M) && money_in_range(0), "the bounds are in range");
	ok(!money_in_range(M + 1) && !money_in_range(-M - 1), "one past them is not");
	ok(!money_in_range(INT64_MAX) && !money_in_range(INT64_MIN), "nor are int64's ends");
	ok(money_add(5, 7, &out) == 0 && out == 12, "5 + 7");
	ok(money_add(M - 10, 10, &out) == 0 && out == M, "up to the bound exactly");
	out = 42;
	ok(money_add(M - 10, 11, &out) == -1 && out == 42, "one past the bound: refused, output untouched");
	ok(money_add(-M + 3, -3, &out) == 0 && out == -M, "down to -bound exactly");
	ok(money_add(-M, -1, &out) == -1, "below -bound: refused");
	ok(money_add(INT64_MAX, 1, &out) == -1, "a sum that would wrap int64: refused");
	ok(money_add(INT64_MIN, -1, &out) == -1, "a sum that would wrap below: refused");
	ok(money_add(M + 5, -10, &out) == -1, "an operand out of range is refused even when the sum is in");
	ok(money_sub(10, 3, &out) == 0 && out == 7, "10 - 3");
	ok(money_sub(-M + 1, 1, &out) == 0 && out == -M, "a charge down to -bound exactly");
	out = 42;
	ok(money_sub(-M, 1, &out) == -1 && out == 42, "a charge past -bound: refused, untouched");
	ok(money_sub(0, INT64_MIN, &out) == -1, "0 - INT64_MIN wraps: refused");
	ok(money_sub(M, -1, &out) == -1, "a refund past +bound: refused");
	is_int(money_available(100, 30, 50), 120, "available = balance - reserved + overdraft");
	is_int(money_available(-M, M, 0), -INT64_MAX, "a deep debt with a full reserve clamps, not wraps");
	is_int(money_available(INT64_MAX, INT64_MIN, INT64_MAX), INT64_MAX, "clamped above");
	ok(money_exceeds(M, M, 1, INT64_MAX), "spend + holds + charge past int64 still exceeds");
	ok(!money_exceeds(10, 20, 30, 60), "10 + 20 + 30 = 60 is not above 60");
	ok(money_exceeds(10, 20, 31, 60), "61 is above 60");
	ok(!money_exceeds(INT64_MIN, INT64_MIN, 0, 0), "far below a limit, no wrap");
	is_int(money_left(60, 10, 20), 30, "what a limit has left");
	is_int(money_left(0, M, M), -INT64_MAX, "left clamps");
	return done_testing();
}
