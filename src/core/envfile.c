/* envfile.c: systemd's EnvironmentFile, as creditd.service reads it (envfile.h). */
#include "envfile.h"
#include "config.h"
#include "limits.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The most variables a file may set (every CREDITD_* key, with room). */
#define ENVFILE_MAX_VARS 256

/* What the file read so far holds: names and values, owned. */
struct envfile_vars {
	char *names[ENVFILE_MAX_VARS], *values[ENVFILE_MAX_VARS];
	int n;
};

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
 * CREDITD_* assignment creditd's unit takes (CREDITD_CONFIG and
 * CREDITD_ENV_FILE are not: the unit names its config with -c), -1 when
 * its value holds what systemd would read otherwise. */
static int parse_line(char *line, char **name, char **value)
{
	char *s = trim(line), *eq = strchr(s, '=');
	if (strncmp(s, "CREDITD_", 8) != 0 || eq == NULL)
		return 0;
	*eq = '\0';
	*name = trim(s);
	if (strspn(*name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(*name) ||
	    strcmp(*name, "CREDITD_CONFIG") == 0 || strcmp(*name, "CREDITD_ENV_FILE") == 0)
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

/* Skips the rest of a line longer than the buffer. */
static void skip_rest(FILE *f)
{
	int c;
	while ((c = fgetc(f)) != EOF && c != '\n')
		;
}

/* Reads every assignment of f into v. 0, or -1 with err. */
static int read_vars(FILE *f, const char *path, struct envfile_vars *v, char *err, size_t errcap)
{
	char line[LIMIT_CONFIG_LINE_BYTES + 2];
	int lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name, *value;
		lineno++;
		if (strlen(line) == sizeof(line) - 1 && line[sizeof(line) - 2] != '\n') {
			skip_rest(f);
			if (strncmp(trim(line), "CREDITD_", 8) != 0)
				continue;	/* a long comment or another program's line */
			snprintf(err, errcap, "%s:%d: a line longer than %d bytes", path, lineno, LIMIT_CONFIG_LINE_BYTES);
			return -1;
		}
		int got = parse_line(line, &name, &value);
		if (got < 0) {
			snprintf(err, errcap, "%s:%d: a backslash or a quote inside a value, which systemd reads as an escape "
				 "or a quote: set it in the config instead", path, lineno);
			return -1;
		}
		if (got > 0 && v->n == ENVFILE_MAX_VARS) {
			snprintf(err, errcap, "%s:%d: more than %d variables", path, lineno, ENVFILE_MAX_VARS);
			return -1;
		}
		if (got > 0) {
			v->names[v->n] = strdup(name);
			v->values[v->n] = strdup(value);
			v->n++;
			if (v->names[v->n - 1] == NULL || v->values[v->n - 1] == NULL) {
				snprintf(err, errcap, "out of memory");
				return -1;
			}
		}
	}
	if (ferror(f)) {
		snprintf(err, errcap, "%s: read error", path);
		return -1;
	}
	return 0;
}

/* The operator's own variables are kept; of a name the file gives twice,
 * its last line wins, as in systemd. The number set. */
static int apply(const struct envfile_vars *v)
{
	int mine[ENVFILE_MAX_VARS], set = 0;
	for (int i = 0; i < v->n; i++)
		mine[i] = getenv(v->names[i]) != NULL;
	for (int i = 0; i < v->n; i++) {
		int later = 0;
		for (int j = i + 1; j < v->n && !later; j++)
			later = strcmp(v->names[i], v->names[j]) == 0;
		if (!mine[i] && !later && setenv(v->names[i], v->values[i], 1) == 0)
			set++;
	}
	return set;
}

int envfile_load(const char *path, int *set, char *err, size_t errcap)
{
	struct envfile_vars v = {.n = 0};
	struct stat st;
	*set = 0;
	err[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return errno == EACCES ? ENVFILE_UNREADABLE : -1;
	}
	/* It holds secrets: others may neither read nor write it, nor its
	 * group write it (the config's rule; /dev/null, no file, is none). */
	int rc = fstat(fileno(f), &st) != 0 ? -1 : 0;
	if (rc == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		snprintf(err, errcap, "%s: mode %04o: it holds secrets, so others may not read it nor its group write it "
			 "(chmod 0600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		rc = -1;
	}
	/* Read whole first: a bad line sets nothing. */
	if (rc == 0)
		rc = read_vars(f, path, &v, err, errcap);
	fclose(f);
	if (rc == 0)
		*set = apply(&v);
	for (int i = 0; i < v.n; i++) {
		free(v.names[i]);
		free(v.values[i]);
	}
	return rc;
}

const char *envfile_for_config(const char *config)
{
	const char *named = getenv("CREDITD_ENV_FILE");
	if (named != NULL)
		return named[0] != '\0' ? named : NULL;
	return strcmp(config_path(config), CFG_DEFAULT_PATH) == 0 ? ENVFILE_DEFAULT_PATH : NULL;
}
