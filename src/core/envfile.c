/* envfile.c: systemd's EnvironmentFile, as creditd.service reads it (envfile.h). */
#include "envfile.h"
#include "limits.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most variables a file may set (every CREDITD_* key, with room). */
#define ENVFILE_MAX_VARS 256

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* One line: 1 with *name and *value set (in line), 0 when it is not a
 * CREDITD_* assignment, -1 when its value holds what systemd would read
 * otherwise. */
static int parse_line(char *line, char **name, char **value)
{
	char *s = trim(line), *eq = strchr(s, '=');
	if (strncmp(s, "CREDITD_", 8) != 0 || eq == NULL)
		return 0;
	*eq = '\0';
	*name = trim(s);
	if (strspn(*name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(*name))
		return 0;
	char *v = trim(eq + 1);
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	if (strpbrk(v, "\\\"'") != NULL)
		return -1;
	*value = v;
	return 1;
}

int envfile_load(const char *path, int *set, char *err, size_t errcap)
{
	char line[LIMIT_CONFIG_LINE_BYTES + 2];
	char *names[ENVFILE_MAX_VARS], *values[ENVFILE_MAX_VARS];
	int n = 0, lineno = 0, rc = 0;
	*set = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT || errno == EACCES || errno == ENOTDIR)
			return 0;
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Read whole first: a bad line sets nothing. */
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *name, *value;
		lineno++;
		if (strlen(line) == sizeof(line) - 1 && line[sizeof(line) - 2] != '\n') {
			snprintf(err, errcap, "%s:%d: a line longer than %d bytes", path, lineno, LIMIT_CONFIG_LINE_BYTES);
			rc = -1;
			break;
		}
		int got = parse_line(line, &name, &value);
		if (got < 0) {
			snprintf(err, errcap, "%s:%d: a backslash or a quote inside a value, which systemd reads as an escape "
				 "or a quote: set it in the config instead", path, lineno);
			rc = -1;
		} else if (got > 0 && n == ENVFILE_MAX_VARS) {
			snprintf(err, errcap, "%s:%d: more than %d variables", path, lineno, ENVFILE_MAX_VARS);
			rc = -1;
		} else if (got > 0) {
			names[n] = strdup(name);
			values[n] = strdup(value);
			if (names[n] == NULL || values[n] == NULL) {
				free(names[n]);
				free(values[n]);
				snprintf(err, errcap, "out of memory");
				rc = -1;
				break;
			}
			n++;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errcap, "%s: read error", path);
		rc = -1;
	}
	fclose(f);
	/* The operator's own variables are kept; of a name the file gives
	 * twice, its last line wins, as in systemd. */
	int mine[ENVFILE_MAX_VARS];
	for (int i = 0; i < n; i++)
		mine[i] = getenv(names[i]) != NULL;
	for (int i = 0; i < n; i++) {
		int later = 0;
		for (int j = i + 1; j < n && !later; j++)
			later = strcmp(names[i], names[j]) == 0;
		if (rc == 0 && !mine[i] && !later && setenv(names[i], values[i], 1) == 0)
			(*set)++;
	}
	for (int i = 0; i < n; i++) {
		free(names[i]);
		free(values[i]);
	}
	return rc;
}
