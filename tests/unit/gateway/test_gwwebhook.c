/* test_gwwebhook.c: unit tests for src/gateway/gwwebhook.c (docs/gateway.md,
 * "Background responses"): OpenAI's webhooks checked by the Standard
 * Webhooks scheme as openai-node's webhooks.verifySignature checks them.
 * The signatures below were made apart from creditd's code (Python's hmac
 * and base64 over "{webhook-id}.{webhook-timestamp}.{body}"). No clock: the
 * time is given. */
#include <stdio.h>
#include <string.h>

#include "gwwebhook.h"
#include "tap.h"

static const char SECRET[] = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";	/* bytes 0..31 */
static const char BODY[] = "{\"id\":\"evt_1\",\"object\":\"event\",\"created_at\":1767225600,\"type\":"
			   "\"response.completed\",\"data\":{\"id\":\"resp_abc\"}}";
static const char ID[] = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
static const char TS[] = "1767225600";
static const char SIG[] = "v1,VN3UdlKRtv0yTvYQtY2imMOdmCZce6uDasYRpdJ8Ke0=";
/* The same, keyed by a secret without whsec_: its text's bytes. */
static const char RAW_SECRET[] = "a raw secret of 24 bytes";
static const char RAW_SIG[] = "v1,GyjzRzJH9YYH5RP4PRjkS38HC+/5N5gIjJD9pqljQ8I=";
#define NOW 1767225600

static enum gwwebhook_verdict check(const char *secret, const char *id, const char *ts, const char *sig,
				    const char *body, int64_t now)
{
	return gwwebhook_verify(secret, id, ts, sig, body, strlen(body), now);
}

static void test_signed(void)
{
	is_int(check(SECRET, ID, TS, SIG, BODY, NOW), GWWEBHOOK_OK, "OpenAI's signature matches");
	is_int(check(RAW_SECRET, ID, TS, RAW_SIG, BODY, NOW), GWWEBHOOK_OK, "a secret without whsec_ is its bytes");
	is_int(check(SECRET, ID, TS, "v1,bm9wZQ== v1,VN3UdlKRtv0yTvYQtY2imMOdmCZce6uDasYRpdJ8Ke0=", BODY, NOW),
	       GWWEBHOOK_OK, "one of several signatures, space-separated, matches");
	is_int(check(SECRET, ID, TS, SIG, BODY, NOW + 300), GWWEBHOOK_OK, "5 minutes late: taken");
	is_int(check(SECRET, ID, TS, SIG, BODY, NOW - 300), GWWEBHOOK_OK, "5 minutes early: taken");
}

static void test_refused(void)
{
	char body[sizeof(BODY)];
	memcpy(body, BODY, sizeof(BODY));
	body[10] = 'X';
	is_int(check(SECRET, ID, TS, SIG, body, NOW), GWWEBHOOK_MISMATCH, "a body changed by one byte");
	is_int(check(SECRET, "msg_other", TS, SIG, BODY, NOW), GWWEBHOOK_MISMATCH, "another webhook-id");
	is_int(check(SECRET, ID, "1767225601", SIG, BODY, NOW), GWWEBHOOK_MISMATCH, "another timestamp");
	is_int(check("whsec_AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", ID, TS, SIG, BODY, NOW), GWWEBHOOK_MISMATCH,
	       "another secret");
	is_int(check(SECRET, ID, TS, "v2,VN3UdlKRtv0yTvYQtY2imMOdmCZce6uDasYRpdJ8Ke0=", BODY, NOW), GWWEBHOOK_MISMATCH,
	       "another version");
	is_int(check(SECRET, ID, TS, "VN3UdlKRtv0yTvYQtY2imMOdmCZce6uDasYRpdJ8Ke0=", BODY, NOW), GWWEBHOOK_MISMATCH,
	       "no version");
	is_int(check(SECRET, ID, TS, "v1,VN3UdlKRtv0yTvYQtY2imMOdmCZce6uDasYRpdJ8Ke0", BODY, NOW), GWWEBHOOK_MISMATCH,
	       "base64 cut short");
	is_int(check(SECRET, ID, TS, SIG, BODY, NOW + 301), GWWEBHOOK_STALE, "over 5 minutes old");
	is_int(check(SECRET, ID, TS, SIG, BODY, NOW - 301), GWWEBHOOK_STALE, "over 5 minutes ahead");
	is_int(gwwebhook_verify(SECRET, NULL, TS, SIG, BODY, strlen(BODY), NOW), GWWEBHOOK_MISSING, "no webhook-id");
	is_int(gwwebhook_verify(SECRET, ID, NULL, SIG, BODY, strlen(BODY), NOW), GWWEBHOOK_MISSING, "no timestamp");
	is_int(gwwebhook_verify(SECRET, ID, TS, NULL, BODY, strlen(BODY), NOW), GWWEBHOOK_MISSING, "no signature");
	is_int(check(SECRET, ID, "17672256x0", SIG, BODY, NOW), GWWEBHOOK_MISSING, "a timestamp not digits");
	is_int(check(SECRET, ID, "", SIG, BODY, NOW), GWWEBHOOK_MISSING, "an empty timestamp");
	ok(strstr(gwwebhook_why(GWWEBHOOK_STALE), "5 minutes") != NULL, "why: says the tolerance");
}

static void test_key(void)
{
	unsigned char key[256];
	size_t n = 0;
	is_int(gwwebhook_key(SECRET, key, sizeof(key), &n), 0, "whsec_ and base64: taken");
	is_int((int)n, 32, "decoded to 32 bytes");
	ok(key[0] == 0 && key[31] == 31, "its bytes");
	is_int(gwwebhook_key("whsec_AAECAwQFBgcICQoLDA0ODw==", key, sizeof(key), &n), 0, "16 bytes: the least taken");
	is_int(gwwebhook_key("whsec_AAECAwQFBgcICQoLDA0O", key, sizeof(key), &n), -1, "15 bytes: too short");
	is_int(gwwebhook_key("whsec_not base64!", key, sizeof(key), &n), -1, "not base64: refused");
	is_int(gwwebhook_key("short", key, sizeof(key), &n), -1, "a raw secret under 16 bytes: refused");
	is_int(check("whsec_AAECAwQFBgcICQoLDA0O", ID, TS, SIG, BODY, NOW), GWWEBHOOK_MISMATCH,
	       "a secret too short matches nothing");
}

int main(void)
{
	test_signed();
	test_refused();
	test_key();
	return done_testing();
}
