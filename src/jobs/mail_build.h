/* mail_build.h: an alert mail made from an event (docs/operations.md, "Alerts by
 * email"), pure: no I/O, no clock, no database; mail.c reads what it
 * needs and sends what this makes.
 *
 * The message is RFC 5322 with MIME: Date, From, To, a Subject for the
 * event's type, a Message-ID made of the event id and the sender's domain
 * (the same for every attempt: a resend is recognisable as one), and
 * multipart/alternative of text/plain and text/html, both UTF-8 in
 * quoted-printable (every line at most 76 bytes, so under RFC 5322's 998),
 * in English or French. It names the account, gives its balance as read
 * when the mail is made, every figure of the event's data, and a top-up
 * link when one is configured. Everything put into the HTML is escaped. */
#ifndef CREDITD_MAIL_BUILD_H
#define CREDITD_MAIL_BUILD_H
#include <stddef.h>
#include <stdint.h>

/* The event mailed. */
struct mail_event {
	int64_t id;
	int64_t created_at;		/* unix seconds */
	const char *type;		/* "balance.low" */
	const char *account;		/* the account's id */
	const char *data;		/* the event's data, a JSON object's text */
	int64_t balance_micros;		/* the account's balance when the mail is made */
};
/* Who sends it to whom, how, and when. */
struct mail_head {
	const char *from;		/* [email] from */
	const char *to;			/* the account's email */
	const char *locale;		/* "en" or "fr" */
	const char *topup_url;		/* "" : no link */
	const char *currency;		/* [ledger] currency: "EUR", "credits" */
	int64_t now;			/* the Date header, unix seconds */
};
/* The message (CRLF lines), malloc'd; NULL when memory runs out or it
 * would pass LIMIT_MAIL_BYTES. */
char *mail_build(const struct mail_head *h, const struct mail_event *e);
/* The pieces the message is made of, for the tests. */
/* An amount of micros as text: "1.50", "-0.000125" ("1,50" in French). */
void mail_build_amount(int64_t micros, const char *locale, char *out, size_t cap);
/* topup_url with each "{account}" replaced by the account id,
 * percent-encoded (RFC 3986's unreserved characters kept); malloc'd. */
char *mail_build_link(const char *topup_url, const char *account);
/* The Message-ID's value, "<creditd.event.ID@DOMAIN>", DOMAIN the from
 * address's. */
void mail_build_message_id(int64_t event_id, const char *from, char *out, size_t cap);
#endif
