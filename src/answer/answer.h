/* answer.h: the answers of the ledger's writes, rendered. The ledger
 * decides and hands back plain data (ledger_done.h); this module, above
 * the ledger and below its callers (src/http, src/ctl), makes of it the
 * JSON and the HTTP status the API answers and creditctl prints: one
 * place for each answer's shape, its keys in the order clients have
 * always seen them (an answer stored under an Idempotency-Key by an
 * earlier build replays as it was stored, and a fresh one must read the
 * same). It reads no clock, database or config: what an answer shows is
 * in what it is handed. */
#ifndef CREDITD_ANSWER_H
#define CREDITD_ANSWER_H
#include <jansson.h>
#include "errors.h"
#include "ledger.h"

/* d as the API answers it: *status (201, 200) and *body, a new object
 * the caller owns (json_decref). CD_OK; CD_E_INTERNAL with *body NULL
 * when it could not be made (out of memory). d is a write's (asserted).
 * The ledger's struct ledger_call.render. */
enum cd_err answer_render(const struct ledger_done *d, int *status, json_t **body);

/* The parts, each a new reference or NULL (out of memory): an account
 * (GET /v1/accounts/{id}, its creation, its patch); a journal row a write
 * appended, with where it left the account (a debit); a grant given; a
 * plan; a promo code, and its redemption; a member, and its removal. */
json_t *answer_accounts_view(const struct ledger_account_view *a);
json_t *answer_entries_entry(const struct ledger_entry_done *e);
json_t *answer_entries_grant(const struct ledger_grant_done *g);
json_t *answer_catalogue_plan(const struct ledger_plan_done *p);
json_t *answer_catalogue_promo(const struct ledger_promo_done *p);
json_t *answer_catalogue_redeem(const struct ledger_redeem_done *r);
json_t *answer_members_member(const struct ledger_member_done *m);
json_t *answer_members_gone(const struct ledger_member_gone *m);
/* An account's threshold alerts (PUT and GET …/alerts): {"alerts": [...]}. */
json_t *answer_alerts_view(const struct ledger_alerts_view *v);
/* The guard's: a hold made, a settle, a release, a usage (all 200). */
json_t *answer_guard_hold(const struct ledger_hold_done *h);
json_t *answer_guard_settle(const struct ledger_settle_done *s);
json_t *answer_guard_release(const struct ledger_release_done *r);
json_t *answer_guard_usage(const struct ledger_usage_done *u);

/* What every renderer shares: an optional figure (-1: null) and time
 * (-1: null; else RFC 3339, UTC), and a text that may be null; each a
 * new reference. */
json_t *answer_fields_int(int64_t v);
json_t *answer_fields_time(int64_t t);
json_t *answer_fields_text(const char *s, int has);
#endif
