/* ledger_console.h: the operator's console's sessions in the database
 * (sql/064_console_sessions.sql; docs/api.md, "Console sessions"). A
 * session is found by the SHA-256 of its cookie's id, never by the id;
 * each look-up joins the key it stands for, so a revoked or expired key
 * ends its sessions at their next call. The router (src/http) calls these;
 * the clock is the store's (db->now). */
#ifndef CREDITD_LEDGER_CONSOLE_H
#define CREDITD_LEDGER_CONSOLE_H
#include <stdint.h>
#include "errors.h"
#include "keys.h"
#include "limits.h"

struct store;

/* A live session as the router uses it: its key's grant (its scopes
 * narrowed to admin and read: what a console may do), the key's public
 * prefix (as creditctl keys list shows it), the CSRF token and its
 * clocks (unix seconds). */
struct ledger_console_session {
	struct key_grant grant;
	char key_prefix[16 * 4 + 1];
	char csrf[2 * LIMIT_CONSOLE_RANDOM_BYTES + 1];
	int64_t created_at, last_seen_at;
};

/* Opens a session for the live key whose SHA-256 is key_hash: stores
 * id_hash (the SHA-256 of the cookie's id) and csrf (hex, NUL-ended).
 * CD_E_UNAUTHORIZED when no live key has that hash (revoked between its
 * check and now); else CD_OK or a failure. */
enum cd_err ledger_console_open(struct store *db, const unsigned char id_hash[32], const unsigned char key_hash[32],
				const char *csrf);
/* The live session whose id has SHA-256 id_hash into *out: CD_OK; one
 * unknown, older than LIMIT_CONSOLE_SESSION_SECONDS, idle for
 * LIMIT_CONSOLE_IDLE_SECONDS, or whose key is revoked, expired or no
 * longer admin or read: CD_E_UNAUTHORIZED, *out zeroed. Notes the call
 * (last_seen_at) when its note is LIMIT_CONSOLE_SEEN_SECONDS old. */
enum cd_err ledger_console_find(struct store *db, const unsigned char id_hash[32], struct ledger_console_session *out);
/* Deletes the session whose id has SHA-256 id_hash (sign-out); CD_OK
 * whether or not it was there. */
enum cd_err ledger_console_close(struct store *db, const unsigned char id_hash[32]);
#endif
