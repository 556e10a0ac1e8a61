/* mail_build.c: an alert mail made from an event (see mail_build.h). */
#include "mail_build.h"
#include "dynbuf.h"
#include "limits.h"
#include "mailaddr.h"
#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- What the mail says, in each language ---- */

struct mail_words {
	const char *subject;	/* "%s": the account */
	const char *lead;	/* "%s": the account */
};
/* A type's words: English, then French. */
struct mail_type_words {
	const char *type;
	struct mail_words en, fr;
};
static const struct mail_type_words type_words[] = {
	{"balance.low", {"Low balance on account %s", "The available balance of account %s has fallen below its alert threshold."},
	 {"Solde bas sur le compte %s", "Le solde disponible du compte %s est passé sous son seuil d'alerte."}},
	{"alert.threshold", {"Alert threshold crossed on account %s", "An alert threshold set on account %s has been crossed."},
	 {"Seuil d'alerte franchi sur le compte %s", "Un seuil d'alerte défini sur le compte %s a été franchi."}},
	{"autorecharge.failed", {"Automatic top-up failed on account %s", "An automatic top-up of account %s failed."},
	 {"Échec du rechargement automatique du compte %s", "Un rechargement automatique du compte %s a échoué."}},
	{"payg.failed", {"Payment failed on account %s",
			 "Collecting what account %s owes failed: the account is suspended until it is paid."},
	 {"Échec du paiement du compte %s",
	  "Le prélèvement de ce que doit le compte %s a échoué : le compte est suspendu jusqu'au paiement."}},
	{"balance.depleted", {"Balance used up on account %s", "Account %s has no credit left for a request."},
	 {"Solde épuisé sur le compte %s", "Le compte %s n'a plus de crédit pour une requête."}},
	{"limit.reached", {"Spending limit reached on account %s", "Account %s has reached a spending limit."},
	 {"Limite de dépense atteinte sur le compte %s", "Le compte %s a atteint une limite de dépense."}},
};
static const struct mail_words other_en = {"Event on account %s", "Account %s has a new event."};
static const struct mail_words other_fr = {"Événement sur le compte %s", "Le compte %s a un nouvel événement."};

/* The labels of the page, English then French. */
enum mail_label { L_ACCOUNT, L_BALANCE_NOW, L_EVENT, L_TOPUP, L_TOPUP_TEXT, L_YES, L_NO, L_NONE, L_FOOTER, L_COUNT };
static const char *const labels[L_COUNT][2] = {
	{"Account", "Compte"},
	{"Balance now", "Solde actuel"},
	{"Event", "Événement"},
	{"Top up", "Recharger"},
	{"Top up the account", "Recharger le compte"},
	{"yes", "oui"},
	{"no", "non"},
	{"none", "aucun"},
	{"This alert was sent by creditd because this address receives the account's alerts.",
	 "Cette alerte a été envoyée par creditd car cette adresse reçoit les alertes du compte."},
};
/* The event data's fields, named; any other is shown by its key. */
static const char *const field_words[][3] = {
	{"available_micros", "Available", "Disponible"},
	{"balance_micros", "Balance", "Solde"},
	{"threshold_micros", "Threshold", "Seuil"},
	{"required_micros", "Required", "Requis"},
	{"limit_micros", "Limit", "Limite"},
	{"value_micros", "Value", "Valeur"},
	{"amount_micros", "Amount", "Montant"},
	{"amount_cents", "Amount", "Montant"},
	{"error", "Error", "Erreur"},
	{"failures_in_a_row", "Failures in a row", "Échecs consécutifs"},
	{"disabled", "Automatic top-up switched off", "Rechargement automatique désactivé"},
	{"period", "Period", "Période"},
	{"tries", "Tries", "Tentatives"},
	{"next_try_at", "Next try", "Prochaine tentative"},
	{"limit", "Limit", "Limite"},
	{"kind", "Kind", "Type"},
	{"pct", "Percent", "Pourcentage"},
	{"micros", "Threshold", "Seuil"},
	{"member", "Member", "Membre"},
	{"recharge_id", "Recharge id", "N° de rechargement"},
};

static int french(const char *locale)
{
	return locale != NULL && strcmp(locale, "fr") == 0;
}

static const struct mail_words *words_of(const char *type, const char *locale)
{
	for (size_t i = 0; i < sizeof(type_words) / sizeof(type_words[0]); i++)
		if (strcmp(type_words[i].type, type) == 0)
			return french(locale) ? &type_words[i].fr : &type_words[i].en;
	return french(locale) ? &other_fr : &other_en;
}

static const char *label(enum mail_label l, const char *locale)
{
	return labels[l][french(locale)];
}

static const char *field_label(const char *key, const char *locale)
{
	for (size_t i = 0; i < sizeof(field_words) / sizeof(field_words[0]); i++)
		if (strcmp(field_words[i][0], key) == 0)
			return field_words[i][1 + french(locale)];
	return key;
}

/* ---- Figures ---- */

void mail_build_amount(int64_t micros, const char *locale, char *out, size_t cap)
{
	uint64_t m = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
	char frac[8];
	snprintf(frac, sizeof(frac), "%06" PRIu64, m % 1000000);
	/* Cents always; finer digits only when they are not zeros. */
	for (int i = 5; i >= 2 && frac[i] == '0'; i--)
		frac[i] = '\0';
	snprintf(out, cap, "%s%" PRIu64 "%c%s", micros < 0 ? "-" : "", m / 1000000, french(locale) ? ',' : '.', frac);
}

static void cents_text(int64_t cents, const char *locale, char *out, size_t cap)
{
	int64_t micros = cents > INT64_MAX / 10000 || cents < INT64_MIN / 10000 ? 0 : cents * 10000;
	mail_build_amount(micros, locale, out, cap);
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A field's value as text, malloc'd: amounts with the currency, yes/no,
 * text with control characters made spaces (a line stays a line). */
static char *value_text(const char *key, json_t *v, const struct mail_head *h)
{
	char buf[96];
	char *text = NULL;
	/* alert.threshold's own: a threshold in micros, or a percentage. */
	int micros = ends_with(key, "_micros") || strcmp(key, "micros") == 0;
	if (json_is_integer(v) && strcmp(key, "pct") == 0) {
		snprintf(buf, sizeof(buf), "%" PRId64 " %%", (int64_t)json_integer_value(v));
		text = strdup(buf);
	} else if (json_is_integer(v) && (micros || ends_with(key, "_cents"))) {
		char amount[48];
		if (micros)
			mail_build_amount((int64_t)json_integer_value(v), h->locale, amount, sizeof(amount));
		else
			cents_text((int64_t)json_integer_value(v), h->locale, amount, sizeof(amount));
		snprintf(buf, sizeof(buf), "%s %s", amount, h->currency);
		text = strdup(buf);
	} else if (json_is_boolean(v)) {
		text = strdup(label(json_is_true(v) ? L_YES : L_NO, h->locale));
	} else if (json_is_null(v)) {
		text = strdup(label(L_NONE, h->locale));
	} else if (json_is_string(v)) {
		text = strdup(json_string_value(v));
	} else {
		text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	}
	for (char *p = text; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return text;
}

/* ---- Pieces ---- */

char *mail_build_link(const char *topup_url, const char *account)
{
	static const char hex[] = "0123456789ABCDEF";
	struct dynbuf b;
	dynbuf_init(&b, 4096);
	for (const char *p = topup_url; *p != '\0'; p++) {
		if (strncmp(p, "{account}", 9) != 0) {
			dynbuf_add(&b, p, 1);
			continue;
		}
		for (const unsigned char *a = (const unsigned char *)account; *a != '\0'; a++) {
			char enc[3] = {'%', hex[*a >> 4], hex[*a & 15]};
			int plain = (*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z') || (*a >= '0' && *a <= '9') ||
				    strchr("-._~", *a) != NULL;
			dynbuf_add(&b, plain ? (const char *)a : enc, plain ? 1 : 3);
		}
		p += 8;
	}
	return dynbuf_take(&b);
}

void mail_build_message_id(int64_t event_id, const char *from, char *out, size_t cap)
{
	snprintf(out, cap, "<creditd.event.%" PRId64 "@%s>", event_id, mailaddr_domain(from));
}

static void date_header(int64_t now, char *out, size_t cap)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void rfc3339(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The Subject header's value: as is when printable ASCII, else RFC 2047 encoded
 * words of at most 39 bytes of UTF-8 each (whole characters), folded. */
static void subject_header(struct dynbuf *b, const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int ascii = 1;
	/* Printable ASCII as is; anything else (a control character too:
	 * never a line of its own) encoded. */
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		ascii &= *p >= 0x20 && *p < 0x7f;
	if (ascii) {
		dynbuf_printf(b, "Subject: %s\r\n", s);
		return;
	}
	dynbuf_printf(b, "Subject:");
	for (size_t at = 0, n = strlen(s); at < n;) {
		size_t most = n - at > 39 ? 39 : n - at, len = most;
		while (len > 1 && at + len < n && ((unsigned char)s[at + len] & 0xC0) == 0x80)
			len--;	/* never split a character (of valid UTF-8) */
		if (len == 1 && at + len < n && ((unsigned char)s[at + len] & 0xC0) == 0x80)
			len = most;	/* not UTF-8: cut anywhere */
		dynbuf_printf(b, " =?UTF-8?B?");
		for (size_t i = 0; i < len; i += 3) {
			const unsigned char *q = (const unsigned char *)s + at + i;
			uint32_t v = (uint32_t)q[0] << 16 | (i + 1 < len ? (uint32_t)q[1] << 8 : 0) |
				     (i + 2 < len ? q[2] : 0);
			char out[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < len ? b64[(v >> 6) & 63] : '=',
				       i + 2 < len ? b64[v & 63] : '='};
			dynbuf_add(b, out, 4);
		}
		dynbuf_add(b, "?=\r\n", 4);
		at += len;
	}
}

/* Text (lines ended by "\n") as quoted-printable: CRLF lines of at most
 * 76 bytes, soft breaks where longer. */
static void quoted_printable(struct dynbuf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p == '\n') {
			dynbuf_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		int at_end = p[1] == '\n' || p[1] == '\0';
		int plain = (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_end);
		size_t w = plain ? 1 : 3;
		if (col + w > 75) {
			dynbuf_add(b, "=\r\n", 3);
			col = 0;
		}
		char enc[3] = {'=', hex[*p >> 4], hex[*p & 15]};
		dynbuf_add(b, plain ? (const char *)p : enc, w);
		col += w;
	}
	dynbuf_add(b, "\r\n", 2);
}

static void html_escaped(struct dynbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': dynbuf_add(b, "&amp;", 5); break;
		case '<': dynbuf_add(b, "&lt;", 4); break;
		case '>': dynbuf_add(b, "&gt;", 4); break;
		case '"': dynbuf_add(b, "&quot;", 6); break;
		case '\'': dynbuf_add(b, "&#39;", 5); break;
		default: dynbuf_add(b, s, 1);
		}
	}
}

/* ---- The message ---- */

/* What the mail shows: its sentences and rows (label, value), the
 * values malloc'd; a label may be a key of data, which lives as long. */
#define MAIL_ROWS_MAX 40
struct mail_content {
	char subject[512];
	char lead[512];
	int nrows;
	const char *label[MAIL_ROWS_MAX];
	char *value[MAIL_ROWS_MAX];
	char *link;		/* NULL: none */
	json_t *data;		/* the event's data, parsed */
};

static void row_add(struct mail_content *c, const char *l, char *v)
{
	if (c->nrows < MAIL_ROWS_MAX && v != NULL) {
		c->label[c->nrows] = l;
		c->value[c->nrows++] = v;
	} else {
		free(v);
	}
}

/* A sentence's "%s" replaced by the account (never a format). */
static void fill(char *out, size_t cap, const char *sentence, const char *account)
{
	const char *at = strstr(sentence, "%s");
	assert(at != NULL);
	snprintf(out, cap, "%.*s%s%s", (int)(at - sentence), sentence, account, at + 2);
}

static void content_of(const struct mail_head *h, const struct mail_event *e, struct mail_content *c)
{
	const struct mail_words *w = words_of(e->type, h->locale);
	char buf[160], amount[48], when[32], account[LIMIT_ACCOUNT_ID_BYTES + 1];
	json_error_t jerr;
	memset(c, 0, sizeof(*c));
	/* The id as text: a control character (none passes the API) a space. */
	snprintf(account, sizeof(account), "%s", e->account);
	for (char *p = account; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	fill(c->subject, sizeof(c->subject), w->subject, account);
	fill(c->lead, sizeof(c->lead), w->lead, account);
	row_add(c, label(L_ACCOUNT, h->locale), strdup(account));
	mail_build_amount(e->balance_micros, h->locale, amount, sizeof(amount));
	snprintf(buf, sizeof(buf), "%s %s", amount, h->currency);
	row_add(c, label(L_BALANCE_NOW, h->locale), strdup(buf));
	c->data = json_loads(e->data != NULL ? e->data : "{}", 0, &jerr);
	const char *key;
	json_t *v;
	if (json_is_object(c->data)) {
		json_object_foreach(c->data, key, v)
			row_add(c, field_label(key, h->locale), value_text(key, v, h));
	}
	rfc3339(e->created_at, when, sizeof(when));
	snprintf(buf, sizeof(buf), "%s #%" PRId64 ", %s", e->type, e->id, when);
	row_add(c, label(L_EVENT, h->locale), strdup(buf));
	c->link = h->topup_url != NULL && h->topup_url[0] != '\0' ? mail_build_link(h->topup_url, e->account) : NULL;
}

static void content_free(struct mail_content *c)
{
	for (int i = 0; i < c->nrows; i++)
		free(c->value[i]);
	free(c->link);
	json_decref(c->data);
}

static char *plain_text(const struct mail_head *h, const struct mail_content *c)
{
	struct dynbuf b;
	dynbuf_init(&b, LIMIT_MAIL_BYTES / 4);
	dynbuf_printf(&b, "%s\n\n", c->lead);
	/* French puts a space before a colon. */
	const char *colon = french(h->locale) ? " :" : ":";
	for (int i = 0; i < c->nrows; i++)
		dynbuf_printf(&b, "%s%s %s\n", c->label[i], colon, c->value[i]);
	if (c->link != NULL)
		dynbuf_printf(&b, "\n%s%s %s\n", label(L_TOPUP, h->locale), colon, c->link);
	dynbuf_printf(&b, "\n-- \n%s\n", label(L_FOOTER, h->locale));
	return dynbuf_take(&b);
}

static char *html_text(const struct mail_head *h, const struct mail_content *c)
{
	struct dynbuf b;
	dynbuf_init(&b, LIMIT_MAIL_BYTES / 4);
	dynbuf_printf(&b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
		      french(h->locale) ? "fr" : "en");
	html_escaped(&b, c->subject);
	dynbuf_printf(&b, "</title>\n</head>\n<body style=\"font-family: sans-serif; color: #222;\">\n<h1 "
		      "style=\"font-size: 20px;\">");
	html_escaped(&b, c->subject);
	dynbuf_printf(&b, "</h1>\n<p>");
	html_escaped(&b, c->lead);
	dynbuf_printf(&b, "</p>\n<table style=\"border-collapse: collapse;\">\n");
	for (int i = 0; i < c->nrows; i++) {
		dynbuf_printf(&b, "<tr><th style=\"text-align: left; padding: 4px 12px 4px 0;\">");
		html_escaped(&b, c->label[i]);
		dynbuf_printf(&b, "</th><td style=\"padding: 4px 0;\">");
		html_escaped(&b, c->value[i]);
		dynbuf_printf(&b, "</td></tr>\n");
	}
	dynbuf_printf(&b, "</table>\n");
	if (c->link != NULL) {
		dynbuf_printf(&b, "<p><a href=\"");
		html_escaped(&b, c->link);
		dynbuf_printf(&b, "\" style=\"display: inline-block; padding: 8px 16px; background: #1a56db; color: #fff; "
			      "text-decoration: none; border-radius: 4px;\">");
		html_escaped(&b, label(L_TOPUP_TEXT, h->locale));
		dynbuf_printf(&b, "</a></p>\n");
	}
	dynbuf_printf(&b, "<p style=\"color: #666; font-size: 12px;\">");
	html_escaped(&b, label(L_FOOTER, h->locale));
	dynbuf_printf(&b, "</p>\n</body>\n</html>\n");
	return dynbuf_take(&b);
}

static void headers(struct dynbuf *b, const struct mail_head *h, const struct mail_event *e,
		    const struct mail_content *c, const char *boundary)
{
	char date[64], id[320];
	date_header(h->now, date, sizeof(date));
	mail_build_message_id(e->id, h->from, id, sizeof(id));
	dynbuf_printf(b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, h->from, h->to);
	subject_header(b, c->subject);
	dynbuf_printf(b, "Message-ID: %s\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
		      "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
		      "This is a message in MIME format.\r\n", id, boundary);
}

char *mail_build(const struct mail_head *h, const struct mail_event *e)
{
	struct mail_content c;
	struct dynbuf b;
	char boundary[64];
	/* "=_" never occurs in quoted-printable: the parts cannot hold it. */
	snprintf(boundary, sizeof(boundary), "=_creditd_%" PRId64, e->id);
	content_of(h, e, &c);
	char *text = plain_text(h, &c), *html = html_text(h, &c);
	dynbuf_init(&b, LIMIT_MAIL_BYTES);
	if (text != NULL && html != NULL) {
		headers(&b, h, e, &c, boundary);
		dynbuf_printf(&b, "\r\n--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
		quoted_printable(&b, text);
		dynbuf_printf(&b, "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
		quoted_printable(&b, html);
		dynbuf_printf(&b, "\r\n--%s--\r\n", boundary);
	} else {
		b.failed = 1;
	}
	free(text);
	free(html);
	content_free(&c);
	char *out = b.failed ? NULL : dynbuf_take(&b);
	dynbuf_free(&b);
	return out;
}
