/* ctl_common.c: option and number reading and failure printing shared by
 * creditctl's commands (see ctl_common.h). */
#include "ctl_common.h"
#include "jsonio.h"
#include "ledger.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds "--name VALUE" in argv[from..]; NULL when absent. */
const char *ctl_common_opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* 1 when argv[from..] is only "--name VALUE" pairs with names from the
 * NULL-terminated list: a mistyped option (--expire for --expires) must
 * stop the command, not be ignored and change what it does. */
int ctl_common_opts_known(int argc, char **argv, int from, const char *const *names)
{
	for (int i = from; i < argc; i += 2) {
		const char *const *n = names;
		while (*n != NULL && strcmp(*n, argv[i]) != 0)
			n++;
		if (*n == NULL || i + 1 >= argc) {
			fprintf(stderr, "creditctl: unknown option or missing value: %s\n", argv[i]);
			return 0;
		}
		/* Given twice, the first would win and the second be ignored:
		 * refused, as a mistyped one is. --stripe-price is the one option
		 * a command takes more than once (plan set's list). */
		for (int j = from; j < i && strcmp(argv[i], "--stripe-price") != 0; j += 2)
			if (strcmp(argv[j], argv[i]) == 0) {
				fprintf(stderr, "creditctl: %s given twice\n", argv[i]);
				return 0;
			}
	}
	return 1;
}

int ctl_common_flag(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return i;
	return 0;
}

int ctl_common_flag_take(int *argc, char **argv, int from, const char *name)
{
	int i = ctl_common_flag(*argc, argv, from, name);
	if (i == 0)
		return 0;
	memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(argv[0]));
	(*argc)--;
	return 1;
}

_Static_assert(sizeof(long long) == sizeof(int64_t), "strtoll's range is int64's: no value is cut");

int ctl_common_parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}

/* jansson's json_string refuses invalid UTF-8. */
int ctl_common_text_ok(const char *s, size_t min, size_t max)
{
	if (jsonio_check_text(s, strlen(s), min, max) != 0)
		return 0;
	json_t *probe = json_string(s);
	int ok = probe != NULL;
	json_decref(probe);
	return ok;
}

int ctl_common_fail(struct store *db, enum cd_err rc, const char *what)
{
	const char *msg = store_errmsg(db);
	fprintf(stderr, "creditctl: %s: %s%s%s\n", what, errors_strerror(rc), msg[0] ? ": " : "", msg);
	return 1;
}

int ctl_common_print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "null");
	free(text);
	json_decref(v);
	return 0;
}

