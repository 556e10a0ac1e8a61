/* ledger_gwobjects.c: the record of the objects providers made through
 * the gateway (sql/061, gateway_objects; docs/gateway.md, "Provider
 * objects"): which account made each, of what kind, at which provider.
 * It is what decides who may reach an object through creditd (its
 * routes, previous_response_id) and where its calls go; the provider's
 * own lists are never asked. No money is read or written here: one small
 * transaction an operation, on the account's node. */
#include "ledger_int.h"
#include "timefmt.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char SQL_KEEP[] = "INSERT IGNORE INTO gateway_objects (account_id, object_id, kind, provider, created_at) "
			       "SELECT id, ?, ?, ?, ? FROM accounts WHERE ext_id = ?";
static const char SQL_FIND[] = "SELECT o.provider FROM accounts a STRAIGHT_JOIN gateway_objects o ON o.account_id = a.id "
			       "WHERE a.ext_id = ? AND o.object_id = ? AND o.kind = ? AND o.created_at >= ?";
static const char SQL_FORGET[] = "DELETE o FROM accounts a STRAIGHT_JOIN gateway_objects o ON o.account_id = a.id "
				 "WHERE a.ext_id = ? AND o.object_id = ? AND o.kind = ?";

static const char *const kind_names[LEDGER_GW_KINDS] = {"response", "file", "batch", "batch_output"};

const char *ledger_gw_kind_name(enum ledger_gw_kind kind)
{
	assert(kind >= 0 && kind < LEDGER_GW_KINDS);
	return kind_names[kind];
}

enum op { OP_KEEP, OP_FIND, OP_FORGET };

struct object_tx {
	enum op op;
	const char *account, *id, *provider;
	enum ledger_gw_kind kind;
	int owned;			/* OP_FIND's answer */
	char *found;			/* and its provider, cap bytes */
	size_t cap;
};

/* The oldest object of kind still reachable: a response is forgotten
 * after LIMIT_GATEWAY_RESPONSE_DAYS, as OpenAI forgets stored responses
 * (the purge deletes it later); the other kinds live until deleted. */
static int64_t oldest(const struct store *db, enum ledger_gw_kind kind)
{
	return kind == LEDGER_GW_RESPONSE ? db->now - (int64_t)LIMIT_GATEWAY_RESPONSE_DAYS * TIMEFMT_SECONDS_PER_DAY : 0;
}

static enum cd_err object_tx(struct store *db, void *arg)
{
	struct object_tx *x = arg;
	int e;
	const char *kind = kind_names[x->kind];
	if (x->op == OP_KEEP)
		return store_do(db, SQL_KEEP, "object kept", "sssis", x->id, kind, x->provider, db->now, x->account);
	if (x->op == OP_FORGET)
		return store_do(db, SQL_FORGET, "object forgotten", "sss", x->account, x->id, kind);
	struct dbstmt *s = store_exec(db, SQL_FIND, &e, "sssi", x->account, x->id, kind, oldest(db, x->kind));
	if (s == NULL)
		return store_err(db, e, "object lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	x->owned = got == 1;
	x->found[0] = '\0';
	if (x->owned && store_copy(s, 0, x->found, x->cap, "") != 0)
		return CD_E_INTERNAL;
	return CD_OK;
}

/* One transaction on the account's node, the ledger's routing as it was. */
enum cd_err ledger_gw_object_keep(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id,
				  const char *provider)
{
	struct object_tx x = {OP_KEEP, account, id, provider, kind, 0, NULL, 0};
	assert(account != NULL);
	assert(kind >= 0 && kind < LEDGER_GW_KINDS);
	if (id == NULL || id[0] == '\0')
		return CD_OK;
	return store_tx_on(db, x.account, object_tx, &x);
}

enum cd_err ledger_gw_object_find(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id,
				  int *owned, char *provider, size_t cap)
{
	struct object_tx x = {OP_FIND, account, id, NULL, kind, 0, provider, cap};
	assert(account != NULL);
	assert(id != NULL);
	assert(cap > 0);
	assert(kind >= 0 && kind < LEDGER_GW_KINDS);
	enum cd_err rc = store_tx_on(db, x.account, object_tx, &x);
	*owned = rc == CD_OK && x.owned;
	if (!*owned)
		provider[0] = '\0';
	assert(rc == CD_OK || !*owned);	/* not known: not owned */
	return rc;
}

enum cd_err ledger_gw_object_forget(struct store *db, const char *account, enum ledger_gw_kind kind, const char *id)
{
	struct object_tx x = {OP_FORGET, account, id, NULL, kind, 0, NULL, 0};
	assert(account != NULL);
	assert(id != NULL);
	assert(kind >= 0 && kind < LEDGER_GW_KINDS);
	return store_tx_on(db, x.account, object_tx, &x);
}
