/* email_config.h: the [email] keys (docs/operations.md, "Alerts by email"): the
 * SMTP server the outbox's alerts are mailed through (mail.c), from whom,
 * which event types, in which language, and the top-up link they carry.
 * The CONFIG_MODULE_EMAIL block. */
#ifndef CREDITD_EMAIL_CONFIG_H
#define CREDITD_EMAIL_CONFIG_H
#include <stdint.h>
#include "config.h"

/* How the SMTP session is protected: smtps:// is TLS from the start;
 * smtp:// upgrades with STARTTLS, required (EMAIL_TLS_STARTTLS), or used
 * when offered (EMAIL_TLS_IF_OFFERED: a loopback server under tls = auto),
 * or never (EMAIL_TLS_NONE: tls = none, loopback only). */
enum email_tls { EMAIL_TLS_IMPLICIT, EMAIL_TLS_STARTTLS, EMAIL_TLS_IF_OFFERED, EMAIL_TLS_NONE };

struct email_config {
	char *smtp_url;			/* "" : no mail */
	char *from;
	char *username;			/* "" : no SMTP AUTH */
	char *password;
	char *events;			/* as written: types separated by commas or spaces */
	char *locale;			/* en|fr */
	char *topup_url;		/* "" : no link; {account} is the account id, URL-encoded */
	char *tls;			/* auto|none */
	int64_t retry_hours;		/* how long a mail is retried before it stays unsent */
	/* Derived by the finish: */
	char *types;			/* the event types, "a,b,c" (FIND_IN_SET's list) */
	enum email_tls tls_mode;
};

extern const struct config_module email_config_module;
/* The module's block of c (its slot). */
static inline const struct email_config *email_config_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_EMAIL];
}
/* 1 when [email] smtp_url is set: alerts are mailed. */
int email_config_on(const struct cfg *c);
#endif
