/* background.h: creditd's threads beside the FastCGI workers: the
 * sweeper, the price reloads, the health watchdog, and when configured
 * the event push, the alerts by email and the auto-recharge sender. */
#ifndef CREDITD_BACKGROUND_H
#define CREDITD_BACKGROUND_H

struct cfg;

/* Starts them for cfg (the price reloads' first load asked). 0, or -1
 * (logged). */
int background_start(const struct cfg *cfg);
/* Asks each to stop, waking the sweeper. */
void background_stop(void);
/* 1 while one of them still runs. */
int background_running(void);
/* Wakes the sweeper now and asks for a price reload (SIGHUP). */
void background_reload(void);
#endif
