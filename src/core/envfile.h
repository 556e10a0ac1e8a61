/* envfile.h: the CREDITD_* variables of systemd's EnvironmentFile
 * (/etc/default/creditd), read as creditd.service has systemd read them,
 * so that creditctl sees the secrets creditd runs with wherever an
 * operator keeps them (the config or that file).
 *
 * The rules (the same as the .deb's postinst): a line whose first
 * non-blank text is CREDITD_NAME=VALUE (NAME of [A-Z0-9_]); blanks around
 * the name and the value and a trailing carriage return dropped; one pair
 * of double or single quotes around the value dropped; a backslash or a
 * quote inside the value (which systemd reads as an escape or a quote) is
 * refused, naming the line, rather than read otherwise than systemd.
 * Comments and other lines (of any length) are skipped. A variable
 * already in the environment is kept: an operator's own setting wins. */
#ifndef CREDITD_ENVFILE_H
#define CREDITD_ENVFILE_H
#include <stddef.h>

/* The file creditd.service reads (its EnvironmentFile). */
#ifdef CREDITD_ENV_FILE_PATH
#define ENVFILE_DEFAULT_PATH CREDITD_ENV_FILE_PATH
#else
#define ENVFILE_DEFAULT_PATH "/etc/default/creditd"
#endif

/* envfile_load's answer when the file is there and this user may not
 * read it (err says so): nothing set, the caller decides. */
#define ENVFILE_UNREADABLE 1

/* Sets each CREDITD_* variable of the file at path not yet set (not
 * CREDITD_CONFIG nor CREDITD_ENV_FILE: the unit names its config). 0
 * (with *set the number set) when read or absent; ENVFILE_UNREADABLE;
 * -1 with a sentence in err (the line named) when a line is not read as
 * systemd reads it, or when others may read the file or its group write
 * it (the config's rule for a file of secrets): nothing set then. */
int envfile_load(const char *path, int *set, char *err, size_t errcap);

/* The environment file that goes with the config named config (-c's
 * value, or NULL): $CREDITD_ENV_FILE when set ("" for none, NULL
 * returned), else ENVFILE_DEFAULT_PATH when the config is the default one
 * (by -c, $CREDITD_CONFIG or neither: creditd.service's), else NULL (a
 * demo's or a test's config does not take the installed secrets). */
const char *envfile_for_config(const char *config);
#endif
