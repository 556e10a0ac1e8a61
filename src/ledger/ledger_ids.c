/* ledger_ids.c: the ids creditd makes for its rows as the API shows them
 * ("txn_42", "hold_…" are holdid.h's), written and read back. */
#include "ledger_int.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ledger_ids_format(char *out, size_t cap, const char *prefix, int64_t id)
{
	snprintf(out, cap, "%s%" PRId64, prefix, id);
}

int ledger_ids_parse(const char *s, const char *prefix, int64_t *id)
{
	size_t n = strlen(prefix);
	if (s == NULL || strncmp(s, prefix, n) != 0)
		return -1;
	s += n;
	if (*s < '1' || *s > '9' || strlen(s) > 18)
		return -1;
	for (const char *p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	*id = (int64_t)strtoll(s, NULL, 10);
	return 0;
}

