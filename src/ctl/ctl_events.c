/* ctl_events.c: creditctl events list|retry (see ctl_events.h): the
 * outbox of events pushed to the app, and their mails, as one line an
 * event. */
#include "ctl_events.h"
#include "ctl_common.h"
#include "ctl_usage.h"
#include "ledger.h"
#include "limits.h"
#include "timefmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_event(const struct ledger_event_row *r)
{
	char created[TIMEFMT_LEN], when[TIMEFMT_LEN] = "-";
	timefmt_rfc3339(r->created_at, created);
	if (r->delivered_at >= 0)
		timefmt_rfc3339(r->delivered_at, when);
	else if (r->next_attempt_at >= 0)
		timefmt_rfc3339(r->next_attempt_at, when);
	printf("%lld\t%s\t%s\t%s\t%s\tattempts=%lld\t%s\t%s", (long long)r->id, created, r->type, r->account,
	       r->state, (long long)r->attempts, when, r->last_error);
	/* Its mail beside the push (alerts by email), when it is mailed. */
	when[0] = '-';
	when[1] = '\0';
	if (r->mail_delivered_at >= 0)
		timefmt_rfc3339(r->mail_delivered_at, when);
	else if (r->mail_next_at >= 0)
		timefmt_rfc3339(r->mail_next_at, when);
	if (r->mail_state[0] != '\0')
		printf("\tmail=%s\tmail_attempts=%lld\t%s\t%s", r->mail_state, (long long)r->mail_attempts, when,
		       r->mail_error);
	else
		printf("\tmail=-");
	printf("\n");
}

/* Up to limit events above after, read in pages of LIMIT_LIST_PAGE. */
static int events_list(struct store *db, const char *state, int64_t after, int64_t limit)
{
	struct ledger_event_row *rows = calloc(LIMIT_LIST_PAGE, sizeof(*rows));
	int cap = LIMIT_LIST_PAGE, n = LIMIT_LIST_PAGE;
	enum cd_err rc = rows != NULL ? CD_OK : CD_E_INTERNAL;
	while (rc == CD_OK && n == cap && limit > 0) {
		cap = limit < LIMIT_LIST_PAGE ? (int)limit : LIMIT_LIST_PAGE;
		rc = ledger_events_list(db, state, after, rows, cap, &n);
		if (rc != CD_OK)
			break;
		for (int i = 0; i < n; i++)
			print_event(&rows[i]);
		if (n > 0)
			after = rows[n - 1].id;
		limit -= n;
	}
	free(rows);
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "events list");
}

/* events list [--state S] [--after ID] [--limit N]; events retry ID|--failed.
 * A line per event: id, created, type, account, state, attempts, then the
 * time it was delivered (delivered) or is next tried (pending), and the
 * last error; then its mail: mail=- (not mailed), or mail=STATE,
 * mail_attempts=N, the time it was sent or is next tried, its last error. */
int ctl_events_cmd(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--state", "--after", "--limit", NULL};
	if (argc == 4 && strcmp(argv[2], "retry") == 0) {
		int64_t id = 0;
		int count[2] = {0, 0};
		if (strcmp(argv[3], "--failed") != 0 && (ctl_common_parse_i64(argv[3], &id) != 0 || id <= 0))
			return ctl_usage_bad("events retry: '%s' is not an event ID (a whole number from 1) nor --failed", argv[3]);
		enum cd_err rc = ledger_events_retry(db, id, count);
		if (rc != CD_OK)
			return ctl_common_fail(db, rc, "events retry");
		fprintf(stderr, "%d event(s) to be sent again\n", count[0]);
		if (id > 0 && count[0] + count[1] == 0) {
			fprintf(stderr, "creditctl: events retry: no undelivered event %lld\n", (long long)id);
			return 1;
		}
		if (count[1] > 0)
			fprintf(stderr, "%d mail(s) to be sent again\n", count[1]);
		return 0;
	}
	if (argc < 3 || (strcmp(argv[2], "list") != 0 && strcmp(argv[2], "retry") != 0))
		return argc < 3 ? ctl_usage_bad("events needs list or retry") : ctl_usage_bad("unknown events command: %s", argv[2]);
	if (strcmp(argv[2], "retry") == 0)
		return argc < 4 ? ctl_usage_bad("events retry needs an event ID or --failed")
				: ctl_usage_bad("events retry takes one ID; unexpected argument: %s", argv[4]);
	if (!ctl_common_opts_known(argc, argv, 3, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	const char *state = ctl_common_opt(argc, argv, 3, "--state"), *after = ctl_common_opt(argc, argv, 3, "--after");
	const char *limit = ctl_common_opt(argc, argv, 3, "--limit");
	int64_t a = 0, n = 100;
	if (state != NULL && strcmp(state, "pending") != 0 && strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0)
		return ctl_usage_bad("--state must be pending, delivered or failed, not '%s'", state);
	if (after != NULL && (ctl_common_parse_i64(after, &a) != 0 || a < 0))
		return ctl_usage_bad("--after '%s' is not an event ID (a whole number, 0 or more)", after);
	if (limit != NULL && (ctl_common_parse_i64(limit, &n) != 0 || n < 1 || n > 100000))
		return ctl_usage_bad("--limit '%s' is not a whole number from 1 to 100000", limit);
	return events_list(db, state, a, n);
}
