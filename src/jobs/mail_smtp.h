/* mail_smtp.h: one mail sent through [email] smtp_url by libcurl's SMTP
 * (docs/operations.md, "Alerts by email"): smtps:// is TLS from the start, smtp://
 * upgrades with STARTTLS (required, except to a loopback server: see
 * email_config.h); the server's certificate and name are verified. */
#ifndef CREDITD_MAIL_SMTP_H
#define CREDITD_MAIL_SMTP_H
#include <stddef.h>
#include "email_config.h"

/* Sends message (a whole RFC 5322 text, CRLF lines) from [email] from to
 * `to`: 0 when the server took it (250 after DATA), else -1 with why in
 * error (the server's reply code, or what failed on the way). Blocks at
 * most LIMIT_MAIL_TIMEOUT_SECONDS. */
int mail_smtp_send(const struct email_config *c, const char *to, const char *message, char *error, size_t errcap);
#endif
