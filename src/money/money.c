/* money.c: checked arithmetic on micros (see money.h).
 *
 * The sums use the compiler's overflow builtins first, then the range:
 * a result that wrapped and one that merely left ±LIMIT_BALANCE_MICROS_MAX
 * are refused alike. Comparisons that mix three counters are done in 128
 * bits, where no int64 input can wrap them. */
#include "money.h"

#include <assert.h>
#include <stddef.h>

_Static_assert(LIMIT_BALANCE_MICROS_MAX > 0 && LIMIT_BALANCE_MICROS_MAX < INT64_MAX, "the range is inside int64");

int money_in_range(int64_t v)
{
	return v >= -LIMIT_BALANCE_MICROS_MAX && v <= LIMIT_BALANCE_MICROS_MAX;
}

int money_add(int64_t a, int64_t delta, int64_t *out)
{
	int64_t sum;
	assert(out != NULL);
	if (__builtin_add_overflow(a, delta, &sum) || !money_in_range(a) || !money_in_range(sum))
		return -1;
	*out = sum;
	return 0;
}

int money_sub(int64_t a, int64_t delta, int64_t *out)
{
	int64_t difference;
	assert(out != NULL);
	if (__builtin_sub_overflow(a, delta, &difference) || !money_in_range(a) || !money_in_range(difference))
		return -1;
	*out = difference;
	return 0;
}

static int64_t clamp(__int128 v)
{
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < -INT64_MAX)
		return -INT64_MAX;
	return (int64_t)v;
}

int64_t money_available(int64_t balance, int64_t reserved, int64_t overdraft)
{
	return clamp((__int128)balance - reserved + overdraft);
}

int money_exceeds(int64_t spent, int64_t reserved, int64_t amount, int64_t limit)
{
	return (__int128)spent + reserved + amount > (__int128)limit;
}

int64_t money_left(int64_t limit, int64_t spent, int64_t reserved)
{
	return clamp((__int128)limit - spent - reserved);
}
