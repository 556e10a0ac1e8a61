/* money.c: checked arithmetic on micros (see money.h).
 *
 * The sums use the compiler's overflow builtins first, then the range:
 * a result that wrapped and one that merely left ±LIMIT_BALANCE_MICROS_MAX
 * are refused alike. Comparisons that mix three counters are done in 128
 * bits, where no int64 input can wrap them. */
#include "money.h"

#include <assert.h>
#include <stddef.h>

_Static_assert(LIMIT_BALANCE_MICROS_MAX > 0, "the range is not empty");
_Static_assert(LIMIT_BALANCE_MICROS_MAX < INT64_MAX, "the range is inside int64");

int money_in_range(int64_t v)
{
	int in = v >= -LIMIT_BALANCE_MICROS_MAX && v <= LIMIT_BALANCE_MICROS_MAX;
	assert(in == 0 || in == 1);
	assert(!in || -v <= LIMIT_BALANCE_MICROS_MAX);	/* a value in range negates without wrapping */
	return in;
}

int money_add(int64_t a, int64_t delta, int64_t *out)
{
	int64_t sum;
	assert(out != NULL);
	if (__builtin_add_overflow(a, delta, &sum) || !money_in_range(a) || !money_in_range(sum))
		return -1;
	assert(money_in_range(sum));
	assert(sum - delta == a);	/* exact: nothing wrapped */
	*out = sum;
	return 0;
}

int money_sub(int64_t a, int64_t delta, int64_t *out)
{
	int64_t difference;
	assert(out != NULL);
	if (__builtin_sub_overflow(a, delta, &difference) || !money_in_range(a) || !money_in_range(difference))
		return -1;
	assert(money_in_range(difference));
	assert(difference + delta == a);	/* exact: nothing wrapped */
	*out = difference;
	return 0;
}

/* v is a sum of three int64: within ±2^65. */
static int64_t clamp(__int128 v)
{
	int64_t r = INT64_MAX;
	assert(v < (__int128)1 << 65);
	assert(v > -((__int128)1 << 65));
	if (v < -INT64_MAX)
		r = -INT64_MAX;
	else if (v <= INT64_MAX)
		r = (int64_t)v;
	assert(r != INT64_MIN);	/* a clamped value negates without wrapping */
	assert(r == v || r == INT64_MAX || r == -INT64_MAX);
	return r;
}

int64_t money_available(int64_t balance, int64_t reserved, int64_t overdraft)
{
	__int128 exact = (__int128)balance - reserved + overdraft;
	int64_t available = clamp(exact);
	assert(available == exact || available == INT64_MAX || available == -INT64_MAX);
	assert((available < 0) == (exact < 0));	/* clamped, never turned over */
	return available;
}

int money_exceeds(int64_t spent, int64_t reserved, int64_t amount, int64_t limit)
{
	int over = (__int128)spent + reserved + amount > (__int128)limit;
	assert(over == 0 || over == 1);
	/* The same as: amount is above what the limit has left (money_left, unclamped). */
	assert(over == ((__int128)amount > (__int128)limit - spent - reserved));
	return over;
}

int64_t money_left(int64_t limit, int64_t spent, int64_t reserved)
{
	__int128 exact = (__int128)limit - spent - reserved;
	int64_t left = clamp(exact);
	assert(left == exact || left == INT64_MAX || left == -INT64_MAX);
	assert((left < 0) == (exact < 0));	/* an overspent limit reads below zero, clamped or not */
	return left;
}
