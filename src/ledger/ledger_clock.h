/* ledger_clock.h: an operation's clock as a record the ledger carries,
 * so a decision made in memory reads its time from the rows it decides
 * on, not from the connection (docs/architecture.md, "Where money is
 * decided"). The store fixes the clock at each attempt
 * (store_clock); the guard's batch copies it here once, at the attempt's
 * start, and its decisions and notices read this copy. Plain data, no
 * store: a test sets it as it sets the rows. */
#ifndef CREDITD_LEDGER_CLOCK_H
#define CREDITD_LEDGER_CLOCK_H
#include <stdint.h>

struct ledger_clock {
	int64_t now;		/* unix seconds, fixed for the attempt */
	int64_t month;		/* now's UTC month (202611: timefmt_month_key) */
	int64_t day;		/* now's UTC day (days since the epoch) */
};
#endif
