/* ledger_operator.h: the operator's reads the console's pages ask the API
 * for (docs/api.md, "The operator's reads"): accounts searched, the
 * overview's sums, the schema's state for GET /v1/health. Reads only; each
 * one transaction, bounded (an index range or a LIMIT: docs/api.md says
 * which query reads a whole table). */
#ifndef CREDITD_LEDGER_OPERATOR_H
#define CREDITD_LEDGER_OPERATOR_H
#include "ledger.h"

/* A page of accounts whose external id or email begins with q ("" or
 * NULL: every account), ordered by external id, those after after ("":
 * from the first), at most limit: *out {"data": [...], "has_more",
 * "next_cursor"} (the caller owns it). */
enum cd_err ledger_operator_search(struct store *db, const char *q, const char *after, int limit, json_t **out);

/* The overview's figures at the transaction's clock into *out (the caller
 * owns it): balances, debts, spend today and this month, calls in the last
 * minute, the month's top accounts, mails and events failed. */
enum cd_err ledger_operator_overview(struct store *db, json_t **out);

/* The last migration this build knows (sql/): GET /v1/health compares the
 * database's with it. A new migration changes it (test_94 holds it to
 * the sql/ folder). */
#define LEDGER_SCHEMA_LATEST "086_member_rows_in_read.sql"
/* The database as GET /v1/health shows it. */
struct ledger_operator_db_state {
	char latest[LEDGER_TEXT_BYTES(255)];	/* the last migration applied; "" when none */
	int64_t applied;			/* how many are */
	char galera[LEDGER_TEXT_BYTES(64)];	/* wsrep_local_state_comment; "" without Galera */
};
enum cd_err ledger_operator_db_state(struct store *db, struct ledger_operator_db_state *st);

/* The id of the live key with this SHA-256 into *id (0: none). */
enum cd_err ledger_operator_key_id(struct store *db, const unsigned char hash[32], int64_t *id);
/* As ledger_events_list (ledger.h), but state (pending|failed, NULL: all)
 * matches the event's push or its mail (ledger_events.c): GET /v1/mails. */
enum cd_err ledger_events_deliveries(struct store *db, const char *state, int64_t after,
				     struct ledger_event_row *rows, int cap, int *n);
#endif
