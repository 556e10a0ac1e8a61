/* ledger_due.h: opening an account for a request: lock its row and roll
 * its month and day over (in memory, written with the row). What fell
 * due on it (expired holds released or captured, expired grants written
 * off, a plan's credit for a new period) is never written while an
 * operation reads: the attempt ends on it (CD_E_DUE, nothing written),
 * the account is brought due in a transaction of its own, and the
 * operation runs again on rows due no more (store_tx's RETRY_DUE). Above
 * the rows and the members (expiry moves both); every operation opens
 * its account through here. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_DUE_H
#define CREDITD_LEDGER_DUE_H
#include "ledger_members.h"
#include "ledger_clock.h"

/* Rolls the account's month and day over to the clock's, in memory
 * (money_rule_roll; a->dirty when either moved): written with the row by
 * its next write. Nothing else. ledger_due_roll reads the transaction's
 * clock from the store; a guard batch hands its own (b->clock). */
void ledger_due_roll_at(const struct ledger_clock *clock, struct acct *a);
void ledger_due_roll(const struct store *db, struct acct *a);
/* Rolls the month over and applies what is due, on a row locked by the
 * caller (sets a->dirty when it changed anything). */
enum cd_err ledger_due_apply(struct store *db, struct acct *a);
/* 1 when ledger_due_apply will write rows besides the account's (a renewal's
 * grants, expiries) at the clock's time: what was read of them must be
 * read again. Pure: the row and the time. */
int ledger_due_writes(const struct ledger_clock *clock, const struct acct *a);
/* Locks the account row (FOR UPDATE) and rolls its month and day over.
 * CD_E_NOT_FOUND when no such account; CD_E_DUE when something else fell
 * due on it (ledger_due_writes): the caller returns it, its transaction
 * loop brings the account due (ledger_due_bring_tx) and runs again. */
enum cd_err ledger_due_lock(struct store *db, const char *ext_id, struct acct *a);
enum cd_err ledger_due_lock_id(struct store *db, int64_t id, struct acct *a);
/* Locks the account row and applies everything due in this transaction
 * (ledger_due_apply): an account's creation (its plan's first credit is
 * part of it) and ledger_due_bring_tx's transaction. */
enum cd_err ledger_due_open_id(struct store *db, int64_t id, struct acct *a);
/* Brings account id due, the body of one transaction: locked by id, its
 * month rolled, what fell due applied and saved through the writer. CD_OK
 * too when there is no such account. An operation's transaction loop
 * runs it, as attempts of its own, for the accounts an attempt met due
 * (store_due_add) before the operation's next attempt. */
enum cd_err ledger_due_bring_tx(struct store *db, int64_t id);
/* Holds that expired are released or captured; grants that expired are
 * written off. Recomputes sweep_due_at. */
enum cd_err ledger_due_sweep_acct(struct store *db, struct acct *a);
/* A pending hold as the sweep (or a resolution) closes it. */
struct due_hold {
	int64_t id, amount;
	int has_member;
	char member[LEDGER_ID_MAX + 1];
	int unresolved;			/* sql/058: its provider may have run it */
	int64_t input_bound;		/* an unresolved one's input bound's cost */
	const char *resolved;		/* sql/058's resolved, NULL: not written */
};
/* Closes h, locked with its account a (locked), as x decided: its reserve
 * released, x->charge spent as usage (captured) or a journal row of
 * nothing (expired; released when unresolved), its member's figures,
 * its state; why is the journal row's description. Saving a is the
 * caller's. */
enum cd_err ledger_due_hold_close(struct store *db, struct acct *a, const struct due_hold *h,
				  const struct hold_expiry *x, const char *why);
#endif
