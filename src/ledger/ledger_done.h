/* ledger_done.h: what the ledger's writes (the guard's too) decided, as
 * plain data their callers render (src/answer): no JSON, no HTTP status,
 * no pointer into the ledger's memory. Declared apart from ledger.h, which
 * includes it, only to keep each header readable whole. */
#ifndef CREDITD_LEDGER_DONE_H
#define CREDITD_LEDGER_DONE_H
#include <stdint.h>
#include "limits.h"

#define LEDGER_ID_MAX LIMIT_ACCOUNT_ID_BYTES
#define LEDGER_NAME_MAX LIMIT_NAME_BYTES
/* A text column read back into a row of the operators' lists, in bytes
 * with its NUL: a VARCHAR(chars) of utf8mb4 holds up to four bytes a
 * character, so a buffer of this size holds any value the column can. */
#define LEDGER_TEXT_BYTES(chars) (4 * (chars) + 1)

/* The answers of the writes below, the guard's too, as plain data: no
 * JSON and no HTTP status (src/answer renders both, above the ledger, for
 * the API and creditctl alike). Texts are copies, each sized for its
 * column or its limit; times are unix seconds; a time or an optional
 * figure of -1 is none (null). */
#define LEDGER_SOURCE_BYTES LEDGER_TEXT_BYTES(32)	/* grants.source, journal.source: VARCHAR(32) */
#define LEDGER_DESCRIPTION_BYTES LEDGER_TEXT_BYTES(LIMIT_DESCRIPTION_CHARS)
#define LEDGER_WORD_BYTES 16		/* a kind, status, reason, cause, state or rollover */
#define LEDGER_CURRENCY_BYTES 16	/* [ledger] currency: 3 letters or "credits" */
#define LEDGER_USAGE_ID_BYTES 32	/* "usage_" and an id */
/* A journal row a write appended, and where it left its account: a
 * debit's answer, and a grant's "transaction". */
struct ledger_entry_done {
	int64_t journal_id;		/* "txn_<journal_id>" */
	int64_t amount_micros;		/* signed: a debit's is below 0 */
	int64_t balance_micros;		/* the account's balance after the row */
	int64_t available_micros;	/* and what it has available after it */
	int64_t created_at;
	char account[LEDGER_ID_MAX + 1];
	char cause[LEDGER_WORD_BYTES];	/* grant|adjustment */
	int has_source, has_description;	/* 0: null */
	char source[LEDGER_SOURCE_BYTES];
	char description[LEDGER_DESCRIPTION_BYTES];
};
/* A grant given (ledger_grant): its amount, source, description and
 * account are its journal row's. */
struct ledger_grant_done {
	int64_t grant_id;		/* "grant_<grant_id>" */
	int64_t priority;
	int64_t expires_at;		/* -1: never */
	struct ledger_entry_done entry;
};
/* A plan as it was stored (ledger_plan_put). */
struct ledger_plan_done {
	char name[LEDGER_NAME_MAX + 1];
	char rollover[LEDGER_WORD_BYTES];	/* none|full|capped */
	int64_t credits_micros;
	int64_t rollover_cap_micros;	/* -1: none */
	int64_t member_cap_micros;	/* -1: none */
	int nprices;
	char stripe_price_ids[LIMIT_PLAN_STRIPE_PRICES][LIMIT_STRIPE_ID_BYTES + 1];
};
/* A promo code as it was stored (ledger_promo_create). */
struct ledger_promo_done {
	char code[LIMIT_PROMO_CODE_BYTES + 1];
	int64_t amount_micros;
	int64_t max_redemptions;	/* -1: unlimited */
	int64_t redeemed;
	int64_t expires_at;		/* -1: never */
	int64_t grant_ttl_days;		/* -1: the grant does not expire */
	int64_t created_at;
};
/* A promo code redeemed (ledger_promo_redeem): the grant it gave. */
struct ledger_redeem_done {
	int64_t grant_id;		/* "grant_<grant_id>" */
	char account[LEDGER_ID_MAX + 1];
	char code[LIMIT_PROMO_CODE_BYTES + 1];	/* as stored, whatever case it was redeemed in */
	int64_t amount_micros;
	int64_t expires_at;		/* the grant's; -1: never */
	int64_t balance_micros, available_micros;	/* the account's after it */
};
/* A workspace member as ledger_member_put left it. */
struct ledger_member_done {
	int created;			/* 1: new (201), 0: updated (200) */
	char account[LEDGER_ID_MAX + 1];
	char member[LEDGER_ID_MAX + 1];
	int64_t monthly_cap_micros;	/* -1: no cap */
	int64_t month_spent_micros, reserved_micros;
	int64_t requests_per_minute, tokens_per_minute;	/* -1: none */
};
/* A member removed (ledger_member_delete). */
struct ledger_member_gone {
	char account[LEDGER_ID_MAX + 1];
	char member[LEDGER_ID_MAX + 1];
};
/* Threshold alerts (docs/api.md, "Threshold alerts"; ledger.h's ledger_alerts_set): each of a
 * kind (money_alert.h's enum money_alert_kind), a threshold (a percentage
 * 1 to 100, or micros for balance_below), and for member_cap_pct a member
 * (none: every member); each fires alert.threshold once per crossing. */
struct ledger_alert_spec {
	int kind;			/* enum money_alert_kind */
	int64_t threshold;		/* pct, or micros (balance_below) */
	const char *member;		/* member_cap_pct's member; NULL: every member (or another kind) */
};
/* An alert as it stands: its spec, fired (1) or armed (0) in the period
 * as it is now, and for member_cap_pct the members it is fired for. */
struct ledger_alert_view {
	int kind;
	int64_t threshold;
	char member[LEDGER_ID_MAX + 1];	/* "": none */
	int has_member;
	int fired;
	int64_t members_fired;		/* member_cap_pct: members fired for this month */
};
/* An account's alerts (PUT and GET …/alerts), in their order. */
struct ledger_alerts_view {
	int n;
	struct ledger_alert_view alerts[LIMIT_ALERTS];
};
/* One of an account's live grants, in spending order. */
struct ledger_grant_line {
	int64_t grant_id;		/* "grant_<grant_id>" */
	int64_t remaining_micros;	/* below 0: the account's debt */
	int64_t priority;
	int64_t expires_at;		/* -1: never */
	char source[LEDGER_SOURCE_BYTES];
};
/* An account's latest pay-as-you-go collection (docs/pay-as-you-go.md). */
struct ledger_collection_view {
	int64_t period;			/* its month, YYYYMM; 0: no collection (null) */
	int64_t amount_micros;
	char state[LEDGER_WORD_BYTES];	/* pending|failed|... */
	int64_t tries;
	int64_t next_try_at;		/* -1: none */
};
/* An account as the API shows it (ledger_account_get, and the answer of
 * its creation and its patch), with its first LIMIT_GRANTS_LISTED live
 * grants. About 17 KiB. */
struct ledger_account_view {
	char id[LEDGER_ID_MAX + 1];
	char kind[LEDGER_WORD_BYTES];
	char status[LEDGER_WORD_BYTES];
	char status_reason[LEDGER_WORD_BYTES];	/* "": none (null) */
	char currency[LEDGER_CURRENCY_BYTES];
	char plan[LEDGER_NAME_MAX + 1];		/* "": none (null) */
	int64_t balance_micros, reserved_micros, available_micros;
	int64_t month_spent_micros, day_spent_micros;
	int64_t monthly_limit_micros, daily_limit_micros, low_balance_micros;	/* -1: none */
	int64_t overdraft_limit_micros;
	int64_t period_start, period_end;	/* the plan's period; -1: no plan */
	int64_t recharge_threshold_micros;	/* -1: auto-recharge off (null) */
	int64_t recharge_amount_cents;
	int card_saved;
	int64_t requests_per_minute, tokens_per_minute;	/* -1: none */
	char email[LIMIT_EMAIL_BYTES + 1];	/* "": none (null) */
	struct ledger_collection_view collection;
	int64_t created_at;
	int ngrants;
	struct ledger_grant_line grants[LIMIT_GRANTS_LISTED];
};
/* An account created (new: 201; the same settings again: 200) or
 * patched (200). */
struct ledger_account_done {
	int created;
	struct ledger_account_view account;
};
/* The guard's answers (docs/api.md, "POST /v1/guard/authorize"): a hold made (or its request_id's,
 * again), a settle, a release, a usage. Ids are the public ones. */
struct ledger_hold_done {
	char hold_id[LIMIT_HOLD_ID_BYTES];
	int64_t amount_micros, available_micros;
	int64_t expires_at;
	int64_t max_output_tokens;	/* -1: none (an action's) */
};
struct ledger_settle_done {
	char hold_id[LIMIT_HOLD_ID_BYTES];
	char account[LEDGER_ID_MAX + 1];
	int64_t charged_micros, released_micros, balance_micros, available_micros;
	int late;			/* the hold had expired or been captured first */
};
struct ledger_release_done {
	char hold_id[LIMIT_HOLD_ID_BYTES];
	char account[LEDGER_ID_MAX + 1];
	char state[LEDGER_WORD_BYTES];	/* released, or expired as it stood */
	int64_t released_micros, balance_micros, available_micros;
};
struct ledger_usage_done {
	char usage_id[LEDGER_USAGE_ID_BYTES];
	char account[LEDGER_ID_MAX + 1];
	int64_t charged_micros, balance_micros, available_micros;
	int forced;
	int replayed;			/* its request_id's first answer: no "forced" */
};
/* Which write answered, and its answer. */
enum ledger_done_kind {
	LEDGER_DONE_NONE,		/* no typed answer: a failure, a replay, a refusal */
	LEDGER_DONE_ACCOUNT_CREATE,	/* u.account */
	LEDGER_DONE_ACCOUNT_PATCH,	/* u.account */
	LEDGER_DONE_GRANT,		/* u.grant */
	LEDGER_DONE_DEBIT,		/* u.debit */
	LEDGER_DONE_PLAN_PUT,		/* u.plan */
	LEDGER_DONE_PROMO_CREATE,	/* u.promo */
	LEDGER_DONE_PROMO_REDEEM,	/* u.redeem */
	LEDGER_DONE_MEMBER_PUT,		/* u.member */
	LEDGER_DONE_MEMBER_DELETE,	/* u.member_gone */
	LEDGER_DONE_HOLD,		/* u.hold: an authorize */
	LEDGER_DONE_SETTLE,		/* u.settle */
	LEDGER_DONE_RELEASE,		/* u.release */
	LEDGER_DONE_USAGE,		/* u.usage */
};
/* The guard's answers alone: what a guard operation carries on its way
 * (a few hundred bytes; a struct ledger_done is as large as its largest
 * answer, an account with its grants), put into the caller's struct
 * ledger_done member by member. */
struct ledger_guard_done {
	enum ledger_done_kind kind;	/* LEDGER_DONE_HOLD to LEDGER_DONE_USAGE; NONE: none */
	union {
		struct ledger_hold_done hold;
		struct ledger_settle_done settle;
		struct ledger_release_done release;
		struct ledger_usage_done usage;
	} u;
};
struct ledger_done {
	enum ledger_done_kind kind;
	union {
		struct ledger_account_done account;
		struct ledger_grant_done grant;
		struct ledger_entry_done debit;
		struct ledger_plan_done plan;
		struct ledger_promo_done promo;
		struct ledger_redeem_done redeem;
		struct ledger_member_done member;
		struct ledger_member_gone member_gone;
		struct ledger_hold_done hold;
		struct ledger_settle_done settle;
		struct ledger_release_done release;
		struct ledger_usage_done usage;
	} u;
};

#endif
