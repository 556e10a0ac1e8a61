/* ctl_keys.c: creditctl key create|list|revoke (see ctl_keys.h). A key
 * is shown once, when it is made; the ledger keeps its hash. */
#include "ctl_keys.h"
#include "ctl_common.h"
#include "ctl_usage.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "timefmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LIST_LINE "%-6s %-14s %-20s %-21s %-21s %-21s %s\n"

static void print_key(const struct ledger_key_row *k)
{
	char id[24], scopes[32], created[TIMEFMT_LEN], revoked[TIMEFMT_LEN] = "-";
	snprintf(id, sizeof(id), "%lld", (long long)k->id);
	keys_format_scopes(k->scopes, scopes, sizeof(scopes));
	timefmt_rfc3339(k->created_at, created);
	if (k->revoked_at >= 0)
		timefmt_rfc3339(k->revoked_at, revoked);
	printf(KEY_LIST_LINE, id, k->prefix, scopes, k->account[0] != '\0' ? k->account : "-", created, revoked,
	       k->name);
}

/* key list: read in pages of LIMIT_LIST_PAGE. The header goes out with
 * the first page, or after a listing without any keys: never before a
 * failure. */
static int key_list(struct store *db)
{
	struct ledger_key_row *rows = calloc(LIMIT_LIST_PAGE, sizeof(*rows));
	int64_t after = 0;
	int n = LIMIT_LIST_PAGE, header_done = 0;
	enum cd_err rc = rows != NULL ? CD_OK : CD_E_INTERNAL;
	while (rc == CD_OK && n == LIMIT_LIST_PAGE) {
		rc = ledger_key_list(db, after, rows, LIMIT_LIST_PAGE, &n);
		if (rc != CD_OK)
			break;
		if (!header_done)
			printf(KEY_LIST_LINE, "ID", "PREFIX", "SCOPES", "ACCOUNT", "CREATED", "REVOKED", "NAME");
		header_done = 1;
		for (int i = 0; i < n; i++)
			print_key(&rows[i]);
		if (n > 0)
			after = rows[n - 1].id;
	}
	free(rows);
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "key list");
}

/* key create: the new key alone on stdout's last line (scripts take it from
 * there), its id on stderr. A key bound to an account (--account) reaches
 * that account only; an admin key reaches everything, so it is never bound.
 * Gateway keys (docs/api.md, "Gateway keys for end users") are the API's to
 * make: key list shows them and key revoke revokes them, like any other. */
static int key_create(struct store *db, int argc, char **argv)
{
	const char *scope = ctl_common_opt(argc, argv, 3, "--scope"), *name = ctl_common_opt(argc, argv, 3, "--name");
	const char *account = ctl_common_opt(argc, argv, 3, "--account");
	const char *models = ctl_common_opt(argc, argv, 3, "--models");
	const char *bad_models = models != NULL ? keys_models_check(models) : NULL;
	int mask = scope != NULL ? keys_parse_scopes(scope) : -1;
	char key[KEYS_LEN + 1], prefix[16];
	unsigned char hash[KEYS_HASH_LEN];
	int64_t id;
	static const char *const known[] = {"--scope", "--name", "--account", "--models", NULL};
	if (!ctl_common_opts_known(argc, argv, 3, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	if (mask < 0) {
		fprintf(stderr, "creditctl: --scope must list guard, read, app and/or admin, not '%s'\n",
			scope != NULL ? scope : "");
		return 2;
	}
	if (name != NULL && !ctl_common_text_ok(name, 0, LIMIT_KEY_NAME_BYTES)) {
		fprintf(stderr, "creditctl: --name must be at most %d bytes of UTF-8 without control characters\n",
			LIMIT_KEY_NAME_BYTES);
		return 2;
	}
	if (bad_models != NULL) {
		fprintf(stderr, "creditctl: --models: %s\n", bad_models);
		return 2;
	}
	if (mask & KEY_SCOPE_GATEWAY) {
		fprintf(stderr, "creditctl: gateway keys are made for an account's end users through the API "
			"(POST /v1/accounts/ID/gateway_keys, with an app key), not here\n");
		return 2;
	}
	if (account != NULL && ((mask & KEY_SCOPE_ADMIN) || account[0] == '\0')) {
		fprintf(stderr, "creditctl: %s\n", account[0] == '\0' ? "--account needs an account id"
			: "an admin key cannot be bound to an account (--account is for guard, read and app keys)");
		return 2;
	}
	if (keys_generate(key) != 0) {
		fprintf(stderr, "creditctl: the random generator failed\n");
		return 1;
	}
	keys_sha256(key, strlen(key), hash);
	snprintf(prefix, sizeof(prefix), "%.12s", key);
	const struct ledger_key_new n = {hash, prefix, name ? name : "", mask, account, models};
	enum cd_err rc = ledger_key_create(db, &n, &id);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: key create: no account '%s'; nothing created\n", account);
		return 1;
	}
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "key create");
	fprintf(stderr, "key %lld created; it is shown only once\n", (long long)id);
	printf("%s\n", key);
	return 0;
}

/* key revoke ID: one id, a whole number from 1 (an extra argument is
 * refused, never ignored: each names a key someone meant to keep or end). */
static int key_revoke(struct store *db, int argc, char **argv)
{
	int64_t id;
	if (argc != 4)
		return argc < 4 ? ctl_usage_bad("key revoke needs a key ID") :
		       ctl_usage_bad("key revoke takes one ID; unexpected argument: %s", argv[4]);
	if (ctl_common_parse_i64(argv[3], &id) != 0 || id < 1)
		return ctl_usage_bad("key revoke: %s is not a key ID (a whole number from 1, as key list shows)", argv[3]);
	enum cd_err rc = ledger_key_revoke(db, id);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: key revoke: not found: no key %lld\n", (long long)id);
		return 1;
	}
	if (rc == CD_OK)
		printf("key %lld revoked\n", (long long)id);
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "key revoke");
}

int ctl_keys_cmd(struct store *db, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "create") == 0)
		return key_create(db, argc, argv);
	if (argc >= 3 && strcmp(argv[2], "list") == 0)
		return argc == 3 ? key_list(db) : ctl_usage_bad("key list takes no argument: %s", argv[3]);
	if (argc >= 3 && strcmp(argv[2], "revoke") == 0)
		return key_revoke(db, argc, argv);
	return argc < 3 ? ctl_usage_bad("key needs create, list or revoke")
			: ctl_usage_bad("unknown key command: %s", argv[2]);
}
