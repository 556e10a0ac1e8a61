/* keys.h: API keys and the hashes creditd keeps of them.
 *
 * A key is "crd_" followed by 64 lower-case hex digits (256 bits from the OS
 * CSPRNG). Only its SHA-256 is stored. A string that is not shaped like a key
 * is refused before any database lookup. Scopes are a bit mask: guard (the
 * chat guard), read (GET routes), app (read, plus what an app's backend
 * starts for its end user: top-up, redeem, browser tokens), admin, which
 * implies every other (an operator key may do everything), and gateway
 * (docs/api.md, "Gateway keys for end users": an end user's key for the
 * gateway routes of one account, and nothing else; minted through the API,
 * never with another scope). A key may be bound to one account (struct
 * key_grant): the router then lets it name that account only. */
#ifndef CREDITD_KEYS_H
#define CREDITD_KEYS_H
#include <stddef.h>
#include <stdint.h>
#include "limits.h"

#define KEYS_PREFIX "crd_"
#define KEYS_LEN (4 + 64)
#define KEYS_HASH_LEN 32

/* The bits are stored in api_keys.scopes: never renumber them. */
enum key_scope {
	KEY_SCOPE_GUARD = 1,
	KEY_SCOPE_READ = 2,
	KEY_SCOPE_ADMIN = 4,
	KEY_SCOPE_APP = 8,
	KEY_SCOPE_GATEWAY = 16,
};
#define KEY_SCOPES_ALL (KEY_SCOPE_GUARD | KEY_SCOPE_READ | KEY_SCOPE_ADMIN | KEY_SCOPE_APP | KEY_SCOPE_GATEWAY)

/* What a key that checked out may do: its scopes and, when it is bound to
 * one account, that account (its internal id, which hold ids carry, and
 * its external id, which paths and bodies name); a gateway key's member
 * and expiry too. */
struct key_grant {
	int scopes;
	int64_t account_id;		/* 0: not bound */
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];	/* "" when not bound */
	char member[LIMIT_ACCOUNT_ID_BYTES + 1];	/* the member its calls carry; "" for none */
	int64_t expires_at;		/* unix seconds; 0: never */
	/* The models its gateway calls may name, comma-separated; "" for
	 * any priced model (docs/gateway.md, "What a key holder can and cannot do"). */
	char models[LIMIT_KEY_MODELS_BYTES + 1];
	/* Its prefix as the keys list shows it (api_keys.prefix, 16 bytes at
	 * most): what the journal rows its requests write name as their
	 * actor (docs/api.md, "`actor` names who wrote the row"). */
	char prefix[16 + 1];
};

/* 1 when name may be listed among a key's models: 1 to LIMIT_NAME_BYTES
 * bytes, none a comma, a space or a control character. */
int keys_model_name_ok(const char *name);
/* The names of a key's models (comma-separated), one at a time: start
 * with *at = the list; each call gives the next name (not NUL-ended:
 * *name, *len; an empty one too, as "a,,b" has) and moves *at past it;
 * 0 when none is left. */
int keys_models_next(const char **at, const char **name, size_t *len);
/* NULL when list (comma-separated) may be a key's models: 1 to
 * LIMIT_KEY_MODELS names, each keys_model_name_ok; else why not (a
 * static text). */
const char *keys_models_check(const char *list);
/* 1 when a key limited to models (comma-separated, "" for any) may call
 * model. */
int keys_model_allowed(const char *models, const char *model);

/* Fills out (KEYS_LEN + 1 bytes) with a new key. 0, or -1 when the CSPRNG
 * fails. */
int keys_generate(char *out);
/* 1 when s is shaped like a key. */
int keys_wellformed(const char *s);
/* 1 when two well-formed keys are equal; constant time. */
int keys_equal(const char *a, const char *b);
/* SHA-256 of any bytes. Allocates nothing and cannot fail. */
void keys_sha256(const void *data, size_t len, unsigned char out[KEYS_HASH_LEN]);
/* One piece of a message keys_sha256_parts hashes (data may be NULL when
 * len is 0); borrowed for the call. */
struct keys_part {
	const void *data;
	size_t len;
};
/* SHA-256 of the n parts one after the other, the same as of their
 * concatenation, without making it. Allocates nothing and cannot fail. */
void keys_sha256_parts(const struct keys_part *parts, size_t n, unsigned char out[KEYS_HASH_LEN]);
/* Lower-case hex of a 32-byte hash into out (65 bytes). */
void keys_hex(const unsigned char hash[KEYS_HASH_LEN], char *out);
/* Returns a pointer into header past "Bearer " (case-insensitive scheme),
 * or NULL. Borrowed from header. */
const char *keys_bearer(const char *header);
/* "guard,read" -> mask; -1 on an unknown scope, an empty name or list. */
int keys_parse_scopes(const char *list);
/* Mask -> "guard,read,app,admin,gateway" (those set, in that order) into
 * out. */
void keys_format_scopes(int mask, char *out, size_t cap);
/* The name of one scope bit ("guard", "read", "app", "admin", "gateway");
 * "?" else. */
const char *keys_scope_name(int scope);
/* 1 when a key with `mask` may use a route needing `need`: one scope bit,
 * several (any one of them will do: the gateway's routes take guard or
 * gateway), or 0 for an open route. Admin may use any, app what read
 * may; a gateway key only what names the gateway scope. */
int keys_allows(int mask, int need);
/* A new referral code (LIMIT_REFERRAL_CODE_CHARS of digits and lower-case
 * letters but i, l, o, u) into out, of cap > LIMIT_REFERRAL_CODE_CHARS
 * bytes. 0 or -1 (no randomness). */
int keys_referral_code(char *out, size_t cap);
/* 1 when s has a referral code's form (LIMIT_REFERRAL_CODE_CHARS of its
 * alphabet, in either case). */
int keys_referral_code_ok(const char *s);
/* Fills out with n random bytes as hex (2n+1 bytes). 0 or -1. */
int keys_random_hex(char *out, size_t n);
/* The same for ids that are no secret (a request's X-Request-Id): the
 * bytes come from a store the calling thread refills with one RAND_bytes
 * call per LIMIT_RANDOM_ID_POOL_BYTES. n at most that. 0 or -1. */
int keys_random_id_hex(char *out, size_t n);

/* ---- Browser tokens (docs/api.md, "Widget") ----
 * "cdw1.<account, base64url>.<expires, unix seconds>.<HMAC-SHA256 of all
 * before the last dot, keyed by the server's secret, base64url>", or, for
 * a token that names one member of a workspace, "cdw2.<account>.<member,
 * base64url>.<expires>.<HMAC>": the member is signed with the rest, and
 * the version is too, so a member cannot be dropped or swapped without
 * forging the signature. A token names one account and lets a browser use
 * the /v1/me routes only, until it expires; it is checked without the
 * database. Tokens without a member keep the first form. */
#define KEYS_TOKEN_PREFIX "cdw1."
#define KEYS_TOKEN_MEMBER_PREFIX "cdw2."
/* The longest id a token carries, account or member (both are ids of up
 * to LIMIT_ACCOUNT_ID_BYTES bytes). */
#define KEYS_TOKEN_ID_MAX LIMIT_ACCOUNT_ID_BYTES
/* Room for a token of two ids of KEYS_TOKEN_ID_MAX bytes: the prefix, two
 * base64url ids (4 chars per 3 bytes), a 19-digit time, a 43-char
 * signature and four dots. */
#define KEYS_TOKEN_MAX 448
_Static_assert(5 + 2 * ((KEYS_TOKEN_ID_MAX + 2) / 3 * 4) + 19 + 43 + 4 <= KEYS_TOKEN_MAX,
	       "a token of the longest account and member must fit");
/* Writes the token into out (cap >= KEYS_TOKEN_MAX + 1). member may be
 * NULL (the whole account). 0, or -1 when the secret is empty or an id
 * is empty or too long. */
int keys_token_make(const char *secret, const char *account, const char *member, int64_t expires, char *out,
		    size_t cap);
enum keys_token_check { KEYS_TOKEN_OK, KEYS_TOKEN_MALFORMED, KEYS_TOKEN_FORGED, KEYS_TOKEN_EXPIRED };
/* Checks a token (its signature in constant time, then its expiry against
 * now); on KEYS_TOKEN_OK the account it names is in account and the member
 * in member ("" when it names none), each of cap bytes
 * (>= KEYS_TOKEN_ID_MAX + 1). */
enum keys_token_check keys_token_check(const char *secret, const char *token, int64_t now, char *account,
				       char *member, size_t cap);
#endif
