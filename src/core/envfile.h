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
 * Comments and other lines are skipped. A variable already in the
 * environment is kept: an operator's own setting wins. */
#ifndef CREDITD_ENVFILE_H
#define CREDITD_ENVFILE_H
#include <stddef.h>

/* The file creditd.service reads (its EnvironmentFile). */
#ifdef CREDITD_ENV_FILE_PATH
#define ENVFILE_DEFAULT_PATH CREDITD_ENV_FILE_PATH
#else
#define ENVFILE_DEFAULT_PATH "/etc/default/creditd"
#endif

/* Sets each CREDITD_* variable of the file at path not yet set. 0 (with
 * *set the number set) when read, or when the file is absent or this
 * user may not read it (*set 0: nothing to see there); -1 with a
 * sentence in err (the line named) otherwise, nothing set. */
int envfile_load(const char *path, int *set, char *err, size_t errcap);
#endif
