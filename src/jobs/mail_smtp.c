/* mail_smtp.c: one mail sent by libcurl's SMTP (see mail_smtp.h). */
#include "mail_smtp.h"
#include "limits.h"
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct mail_reader {
	const char *data;
	size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mail_reader *r = arg;
	size_t n = size * nitems < r->left ? size * nitems : r->left;
	memcpy(buf, r->data, n);
	r->data += n;
	r->left -= n;
	return n;
}

static long ssl_mode(enum email_tls t)
{
	switch (t) {
	case EMAIL_TLS_NONE: return (long)CURLUSESSL_NONE;
	case EMAIL_TLS_IF_OFFERED: return (long)CURLUSESSL_TRY;
	default: return (long)CURLUSESSL_ALL;
	}
}

static void options(CURL *h, const struct email_config *c, struct curl_slist *rcpt, struct mail_reader *r,
		    char *from, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, c->smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, ssl_mode(c->tls_mode));
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, r);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)LIMIT_MAIL_TIMEOUT_SECONDS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->username[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
}

int mail_smtp_send(const struct email_config *c, const char *to, const char *message, char *error, size_t errcap)
{
	char from[LIMIT_EMAIL_BYTES + 3], rcpt_addr[LIMIT_EMAIL_BYTES + 3], errbuf[CURL_ERROR_SIZE] = "";
	struct mail_reader r = {message, strlen(message)};
	long code = 0;
	snprintf(from, sizeof(from), "<%s>", c->from);
	snprintf(rcpt_addr, sizeof(rcpt_addr), "<%s>", to);
	CURL *h = curl_easy_init();
	struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_addr);
	if (h == NULL || rcpt == NULL) {
		snprintf(error, errcap, "out of memory");
		curl_slist_free_all(rcpt);
		curl_easy_cleanup(h);
		return -1;
	}
	options(h, c, rcpt, &r, from, errbuf);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK)
		snprintf(error, errcap, "%s%s%.160s (SMTP %ld)", curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf, code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -1;
}
