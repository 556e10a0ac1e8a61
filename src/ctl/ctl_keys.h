/* ctl_keys.h: creditctl's key commands. */
#ifndef CREDITD_CTL_KEYS_H
#define CREDITD_CTL_KEYS_H
struct store;

/* key create --scope S [--name N] [--account ID] [--models A,B]; key
 * list; key revoke ID (argv[2] the subcommand). The exit status: 0, 1 a
 * failure, 2 a wrong command line. */
int ctl_keys_cmd(struct store *db, int argc, char **argv);
#endif
