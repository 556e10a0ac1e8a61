/* test_mail.c: alerts by email's pure parts: an address checked
 * (mailaddr.c), the [email] keys and their refusals (email_config.c), and
 * the message an event makes (mail_build.c): its headers, its two parts,
 * the figures, the top-up link, French, escaping, and RFC 5322's line
 * lengths. */
#include "tap.h"
#include "unit/core/config_modules.h"
#include "mail_build.h"
#include "mailaddr.h"
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static void addresses(void)
{
	static const char *const good[] = {"a@b", "ann.lee+alerts@example.com", "x_y-z@sub.example.co.uk",
					   "o'brien@example.ie", "{}|~!#$%&*=?^`@example.org"};
	static const char *const bad[] = {"", "@example.com", "ann@", "ann", "ann@@example.com", "ann lee@example.com",
					  "ann@example.com\r\nBcc: eve@example.com", "\"ann\"@example.com", "ann@[127.0.0.1]",
					  ".ann@example.com", "ann.@example.com", "an..n@example.com", "ann@-example.com",
					  "ann@example-.com", "ann@exa..mple.com", "Ann <ann@example.com>", "ann@exämple.com",
					  "ann@example.com\n"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(mailaddr_ok(good[i]), "an address: %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!mailaddr_ok(bad[i]), "not an address: bad[%zu]", i);
	ok(!mailaddr_ok(NULL), "NULL is none");
	/* 64 bytes of local-part at most; 254 bytes in all. */
	char local[80];
	memset(local, 'a', 65);
	strcpy(local + 65, "@example.com");
	ok(!mailaddr_ok(local), "a local-part of 65 bytes refused");
	strcpy(local + 64, "@example.com");
	ok(mailaddr_ok(local), "of 64 taken");
	/* "a@" and labels of 9 letters and a dot, to 254 bytes (a letter last). */
	char whole[LIMIT_EMAIL_BYTES + 2];
	memcpy(whole, "a@", 2);
	for (size_t n = 2; n < LIMIT_EMAIL_BYTES; n++)
		whole[n] = (n - 2) % 10 == 9 ? '.' : 'b';
	whole[LIMIT_EMAIL_BYTES] = '\0';
	ok(mailaddr_ok(whole), "%d bytes taken", LIMIT_EMAIL_BYTES);
	whole[LIMIT_EMAIL_BYTES] = 'c';
	whole[LIMIT_EMAIL_BYTES + 1] = '\0';
	ok(!mailaddr_ok(whole), "%d refused", LIMIT_EMAIL_BYTES + 1);
	is_str(mailaddr_domain("alerts@mail.example.com"), "mail.example.com", "the domain");
}

static int load(const char *text, struct cfg *c, char *err, size_t cap)
{
	return config_load_string(text, test_modules, c, err, cap);
}

/* Loads text from a file, as a program does (the environment read too). */
static int load_file(const char *text, struct cfg *c, char *err, size_t cap)
{
	char path[] = "/tmp/test_mail_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	int rc = config_load(path, test_modules, c, err, cap);
	unlink(path);
	return rc;
}

static void config(void)
{
	struct cfg c;
	char err[512] = "";
	ok(load("", &c, err, sizeof(err)) == 0 && !email_config_on(&c), "no [email]: no mail");
	is_str(email_config_of(&c)->types, "balance.low,alert.threshold,autorecharge.failed,payg.failed",
	       "the default event types");
	is_str(email_config_of(&c)->locale, "en", "English by default");
	config_free(&c);
	ok(load("[email]\nsmtp_url = smtps://smtp.example.com:465\nfrom = alerts@example.com\nusername = u\n"
		"password = p\nevents = balance.low  payg.failed,topup.succeeded\nlocale = fr\n"
		"topup_url = https://app.example/topup?account={account}\n", &c, err, sizeof(err)) == 0,
	   "an [email] section: %s", err);
	ok(email_config_on(&c), "mail on");
	is_str(email_config_of(&c)->types, "balance.low,payg.failed,topup.succeeded", "the types, listed");
	is_int(email_config_of(&c)->tls_mode, EMAIL_TLS_IMPLICIT, "smtps://: TLS from the start");
	config_free(&c);
	ok(load("[email]\nsmtp_url = smtp://smtp.example.com:587\nfrom = a@example.com\n", &c, err, sizeof(err)) == 0 &&
	   email_config_of(&c)->tls_mode == EMAIL_TLS_STARTTLS, "smtp:// elsewhere: STARTTLS required");
	config_free(&c);
	ok(load("[email]\nsmtp_url = smtp://127.0.0.1:2525\nfrom = a@example.com\n", &c, err, sizeof(err)) == 0 &&
	   email_config_of(&c)->tls_mode == EMAIL_TLS_IF_OFFERED, "smtp:// to loopback: STARTTLS when offered");
	config_free(&c);
	ok(load("[email]\nsmtp_url = smtp://localhost:2525\nfrom = a@example.com\ntls = none\n", &c, err,
		sizeof(err)) == 0 && email_config_of(&c)->tls_mode == EMAIL_TLS_NONE, "tls = none to loopback");
	config_free(&c);
	static const char *const refused[][2] = {
		{"smtp_url = smtp://mail.example.com:25\nfrom = a@example.com\ntls = none\n", "only for smtp:// to 127.0.0.1"},
		{"smtp_url = smtps://127.0.0.1:465\nfrom = a@example.com\ntls = none\n", "only for smtp:// to 127.0.0.1"},
		{"smtp_url = smtp://127.0.0.1.example.com:25\nfrom = a@example.com\ntls = none\n", "only for smtp://"},
		{"smtp_url = http://mail.example.com\nfrom = a@example.com\n", "must be smtps://"},
		{"smtp_url = smtps://u:p@mail.example.com\nfrom = a@example.com\n", "without user info"},
		{"smtp_url = smtps://mail.example.com\n", "email.from must be an address"},
		{"smtp_url = smtps://mail.example.com\nfrom = Alerts <a@example.com>\n", "email.from must be an address"},
		{"smtp_url = smtps://mail.example.com\nfrom = a@example.com\nevents = balance.low, DROP TABLE\n",
		 "email.events must be event types"},
		{"smtp_url = smtps://mail.example.com\nfrom = a@example.com\nevents = ,\n", "names no event type"},
		{"smtp_url = smtps://mail.example.com\nfrom = a@example.com\nusername = u\n", "set together"},
		{"smtp_url = smtps://mail.example.com\nfrom = a@example.com\nlocale = de\n", "one of en|fr"},
		{"topup_url = http://app.example/topup\n", "email.topup_url must be https://"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "[email]\n%s", refused[i][0]);
		ok(load(text, &c, err, sizeof(err)) != 0 && strstr(err, refused[i][1]) != NULL, "refused: %s",
		   err);
		config_free(&c);
	}
	setenv("CREDITD_SMTP_URL", "smtp://127.0.0.1:2525", 1);
	ok(load_file("[email]\nfrom = a@example.com\n", &c, err, sizeof(err)) == 0 &&
	   strcmp(email_config_of(&c)->smtp_url, "smtp://127.0.0.1:2525") == 0, "CREDITD_SMTP_URL sets smtp_url");
	config_free(&c);
	setenv("CREDITD_SMTP_URL", "smtp://mail.example.com", 1);
	ok(load_file("[email]\nfrom = a@example.com\ntls = none\n", &c, err, sizeof(err)) != 0,
	   "and is checked like the file's: %s", err);
	config_free(&c);
	unsetenv("CREDITD_SMTP_URL");
}

/* The body of the part whose Content-Type starts with type, its
 * quoted-printable undone; malloc'd (NULL: no such part). */
static char *part(const char *msg, const char *type)
{
	char want[64];
	snprintf(want, sizeof(want), "Content-Type: %s", type);
	const char *p = strstr(msg, want);
	const char *body = p != NULL ? strstr(p, "\r\n\r\n") : NULL;
	const char *end = body != NULL ? strstr(body, "\r\n--=_creditd_") : NULL;
	if (end == NULL)
		return NULL;
	char *out = malloc((size_t)(end - body) + 1), *o = out;
	for (const char *s = body + 4; s < end; s++) {
		if (*s == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 2;
		} else if (*s == '=') {
			char hex[3] = {s[1], s[2], '\0'};
			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else if (*s != '\r') {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* 1 when every line ends CRLF, none longer than max bytes. */
static int lines_ok(const char *msg, size_t max)
{
	size_t col = 0;
	for (const char *s = msg; *s != '\0'; s++) {
		if (*s == '\n' && (s == msg || s[-1] != '\r'))
			return 0;
		col = *s == '\n' ? 0 : col + 1;
		if (col > max + 1)
			return 0;
	}
	return 1;
}

static void message(void)
{
	struct mail_head h = {"alerts@mail.example.com", "ann@example.com", "en",
			      "https://app.example/topup?account={account}&from=mail", "EUR", 1795712546};
	struct mail_event e = {42, 1795712000, "balance.low", "acct_1",
			       "{\"available_micros\":1500000,\"balance_micros\":1750000,\"threshold_micros\":2000000}",
			       1250000};
	char *m = mail_build(&h, &e);
	ok(m != NULL, "a message");
	ok(strstr(m, "Date: Thu, 26 Nov 2026 17:02:26 +0000\r\n") != NULL, "Date, RFC 5322's");
	ok(strstr(m, "\r\nFrom: alerts@mail.example.com\r\nTo: ann@example.com\r\n") != NULL, "From and To");
	ok(strstr(m, "\r\nSubject: Low balance on account acct_1\r\n") != NULL, "the type's subject");
	ok(strstr(m, "\r\nMessage-ID: <creditd.event.42@mail.example.com>\r\n") != NULL, "the event's Message-ID");
	ok(strstr(m, "Content-Type: multipart/alternative; boundary=\"=_creditd_42\"") != NULL, "two alternatives");
	ok(lines_ok(m, 76), "CRLF lines of at most 76 bytes");
	char *text = part(m, "text/plain; charset=UTF-8"), *html = part(m, "text/html; charset=UTF-8");
	ok(text != NULL && html != NULL, "a text part and an HTML part");
	ok(text != NULL && strstr(text, "Available: 1.50 EUR\n") && strstr(text, "Threshold: 2.00 EUR\n") &&
	   strstr(text, "Balance now: 1.25 EUR\n") && strstr(text, "Account: acct_1\n"), "the figures");
	ok(text != NULL && strstr(text, "Top up: https://app.example/topup?account=acct_1&from=mail\n"), "the link");
	ok(html != NULL && strstr(html, "href=\"https://app.example/topup?account=acct_1&amp;from=mail\""),
	   "the link in the HTML, escaped");
	ok(html != NULL && strstr(html, "<td style=\"padding: 4px 0;\">1.50 EUR</td>"), "the figures in the HTML");
	char *again = mail_build(&h, &e);
	is_str(again, m, "the same event makes the same message");
	free(again);
	free(text);
	free(html);
	free(m);
	h.topup_url = "";
	m = mail_build(&h, &e);
	ok(m != NULL && strstr(m, "Top up") == NULL && strstr(m, "href") == NULL, "no topup_url: no link");
	free(m);
}

static void french_and_escaping(void)
{
	struct mail_head h = {"alerts@example.com", "ann@example.com", "fr", "https://app.example/t/{account}", "EUR",
			      1795712546};
	struct mail_event e = {7, 1795712000, "autorecharge.failed", "<b>acct & \"co\"</b>/é",
			       "{\"amount_cents\":2000,\"error\":\"Your card was declined <script>x</script>\\r\\nBcc: x\","
			       "\"failures_in_a_row\":2,\"disabled\":false}", -500};
	char *m = mail_build(&h, &e);
	ok(m != NULL && lines_ok(m, 76), "a French message, lines short");
	ok(strstr(m, "Subject: =?UTF-8?B?") != NULL, "a subject with accents, RFC 2047 encoded");
	ok(strstr(m, "\r\nBcc:") == NULL, "no header out of the data");
	char *text = part(m, "text/plain"), *html = part(m, "text/html");
	ok(text != NULL && strstr(text, "Montant : 20,00 EUR\n") && strstr(text, "Solde actuel : -0,0005 EUR\n") &&
	   strstr(text, "Échecs consécutifs : 2\n") && strstr(text, "Rechargement automatique désactivé : non\n"),
	   "in French, a space before each colon");
	ok(text != NULL && strstr(text, "declined <script>x</script>  Bcc: x\n"), "control characters made spaces");
	ok(text != NULL && strstr(text, "https://app.example/t/%3Cb%3Eacct%20%26%20%22co%22%3C%2Fb%3E%2F%C3%A9\n"),
	   "the account URL-encoded in the link");
	ok(html != NULL && strstr(html, "<script>") == NULL && strstr(html, "&lt;script&gt;x&lt;/script&gt;") &&
	   strstr(html, "&lt;b&gt;acct &amp; &quot;co&quot;&lt;/b&gt;/é"), "everything escaped in the HTML");
	ok(html != NULL && strstr(html, "<html lang=\"fr\">"), "the HTML says it is French");
	free(text);
	free(html);
	free(m);
}

static void pieces(void)
{
	char buf[64];
	mail_build_amount(0, "en", buf, sizeof(buf));
	is_str(buf, "0.00", "zero");
	mail_build_amount(123456789, "en", buf, sizeof(buf));
	is_str(buf, "123.456789", "every digit that is not zero");
	mail_build_amount(-2500000, "fr", buf, sizeof(buf));
	is_str(buf, "-2,50", "negative, French");
	mail_build_amount(INT64_MIN, "en", buf, sizeof(buf));
	is_str(buf, "-9223372036854.775808", "the smallest");
	char *l = mail_build_link("https://x.example/{account}/{account}", "a b");
	is_str(l, "https://x.example/a%20b/a%20b", "each {account}");
	free(l);
	mail_build_message_id(9, "a@b.example", buf, sizeof(buf));
	is_str(buf, "<creditd.event.9@b.example>", "the Message-ID");
	/* Another type, known or not, has words of its own or general ones. */
	struct mail_head h = {"a@example.com", "b@example.com", "en", "", "credits", 0};
	struct mail_event e = {1, 0, "alert.threshold", "u1",
			       "{\"kind\":\"balance_below\",\"micros\":5000000,\"pct\":80,\"new_field\":\"x\"}", 0};
	char *m = mail_build(&h, &e);
	ok(m != NULL && strstr(m, "Subject: Alert threshold crossed on account u1\r\n") &&
	   strstr(m, "Threshold: 5.00 credits\r\n") && strstr(m, "Percent: 80 %\r\n") && strstr(m, "new_field: x\r\n"),
	   "alert.threshold's subject and figures; an unknown field by its key");
	free(m);
	/* An id with a line break in it (the API refuses one; the builder
	 * holds anyway) or bytes that are not UTF-8: encoded, never a header. */
	e.account = "u1\r\nBcc: eve@example.com";
	m = mail_build(&h, &e);
	ok(m != NULL && strstr(m, "\nBcc:") == NULL && strstr(m, "Subject: Alert threshold crossed on account u1  Bcc: "),
	   "a control character in an account id: a space, never a line of its own");
	free(m);
	char odd[200];
	memset(odd, 0x9f, sizeof(odd) - 1);
	odd[sizeof(odd) - 1] = '\0';
	e.account = odd;
	m = mail_build(&h, &e);
	ok(m != NULL && lines_ok(m, 76), "bytes that are not UTF-8: cut anywhere, lines short");
	free(m);
	e.account = "u1";
	e.type = "referral.rewarded";
	e.data = "not json";
	m = mail_build(&h, &e);
	ok(m != NULL && strstr(m, "Subject: Event on account u1\r\n") && strstr(m, "referral.rewarded #1"),
	   "any other type: a general subject; data that is not JSON shows none of it");
	free(m);
}

int main(void)
{
	addresses();
	config();
	message();
	french_and_escaping();
	pieces();
	return done_testing();
}
