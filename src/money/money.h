/* money.h: checked arithmetic on micros, as pure functions.
 *
 * Owns the money range (docs/api.md, "Money stays in range"): every balance,
 * reserve and spend counter stays within ±LIMIT_BALANCE_MICROS_MAX. The
 * ledger moves money only through these checks, so an operation that would
 * leave the range is refused before anything changes, never wrapped. No I/O,
 * no allocation, no floating point. */
#ifndef CREDITD_MONEY_H
#define CREDITD_MONEY_H
#include <stdint.h>
#include "limits.h"

/* 1 when v is within ±LIMIT_BALANCE_MICROS_MAX. */
int money_in_range(int64_t v);
/* *out = a + delta: 0 when both operands and the sum are in range, -1
 * (and *out untouched) otherwise. Never overflows, whatever the input. */
int money_add(int64_t a, int64_t delta, int64_t *out);
/* *out = a - delta, as money_add. */
int money_sub(int64_t a, int64_t delta, int64_t *out);
/* available = balance − reserved + overdraft (docs/decisions.md, "Invariants"), exact when it
 * fits int64 and clamped to ±INT64_MAX otherwise (a comparison with a
 * charge, which is at most LIMIT_AMOUNT_MICROS_MAX, stays right). */
int64_t money_available(int64_t balance, int64_t reserved, int64_t overdraft);
/* 1 when spent + reserved + amount > limit, computed exactly (the
 * monthly and daily limits, a member's cap). */
int money_exceeds(int64_t spent, int64_t reserved, int64_t amount, int64_t limit);
/* limit − spent − reserved (what a limit has left), clamped to ±INT64_MAX. */
int64_t money_left(int64_t limit, int64_t spent, int64_t reserved);
#endif
