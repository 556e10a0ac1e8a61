/* ctl_events.h: creditctl's events commands. */
#ifndef CREDITD_CTL_EVENTS_H
#define CREDITD_CTL_EVENTS_H
struct store;

/* events list [--state S] [--after ID] [--limit N]; events retry
 * ID|--failed (argv[2] the subcommand). The exit status: 0, 1 a failure
 * (or nothing to send again for one event), 2 a wrong command line. */
int ctl_events_cmd(struct store *db, int argc, char **argv);
#endif
