/* test_config.c: the config loader accepts what it documents and refuses
 * the rest with a message naming the key and line. */
#include "config.h"
#include "tap.h"
#include "unit/core/config_modules.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 32 bytes each, "whsec_" included: the shortest secrets allowed. */
#define WHSEC_A "whsec_aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define WHSEC_B "whsec_bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SECRET_31 "0123456789abcdef0123456789abcde"

static int load(const char *text, struct cfg *c, char *err, size_t cap)
{
	return config_load_string(text, test_modules, c, err, cap);
}

static int load_file(const char *path, struct cfg *c, char *err, size_t cap)
{
	return config_load(path, test_modules, c, err, cap);
}

/* docs/configuration.md: every signing secret has at least 32 bytes, or the load
 * fails naming its key; an empty one (the feature off) is fine. */
static void secrets_are_long(void)
{
	struct cfg c;
	char err[512] = "";
	_Static_assert(sizeof(WHSEC_A) - 1 == 32 && sizeof(SECRET_31) - 1 == 31, "test secrets' lengths");
	ok(load("[widget]\ntoken_secret = " SECRET_31 "\n", &c, err, sizeof(err)) != 0, "31-byte token secret refused");
	ok(strstr(err, "widget.token_secret") != NULL && strstr(err, "32") != NULL && strstr(err, SECRET_31) == NULL,
	   "message names the key, not the secret: %s", err);
	config_free(&c);
	ok(load("[widget]\ntoken_secret = " SECRET_31 "f\n", &c, err, sizeof(err)) == 0, "32 bytes pass: %s", err);
	config_free(&c);
	ok(load("[notify]\nurl = http://h/x\nsecret = short\n", &c, err, sizeof(err)) != 0, "short notify secret refused");
	ok(strstr(err, "notify.secret") != NULL && strstr(err, ":3") != NULL, "message names key and line: %s", err);
	config_free(&c);
	ok(load("[stripe]\nwebhook_secrets = " WHSEC_A ",whsec_short\n", &c, err, sizeof(err)) != 0,
	   "one short webhook secret of two refused");
	ok(strstr(err, "stripe.webhook_secrets") != NULL, "message names the key: %s", err);
	config_free(&c);
	/* "whsec_" counts: 6 + 25 = 31 bytes is short even though the part
	 * after the prefix would be, on its own, what some would count. */
	ok(load("[stripe]\nwebhook_secrets = whsec_0123456789abcdef012345678\n", &c, err, sizeof(err)) != 0,
	   "a 31-byte whsec_ secret refused");
	config_free(&c);
	ok(load("[stripe]\nwebhook_secrets = " WHSEC_A ",\n[widget]\ntoken_secret =\n", &c, err, sizeof(err)) == 0,
	   "empty secrets and a trailing comma pass: %s", err);
	config_free(&c);
}

/* Each module declares its keys beside its code (config.h's slots): a key
 * of each loads into its module's block, read back through the module's
 * accessor, whichever table of a shared section ([stripe]: the ledger's
 * and the Stripe module's) holds it, and the environment reaches it too;
 * an unknown key in a module's section is refused with the message it
 * always had; a program's list that misses a module is refused. */
static void modules_own_their_keys(void)
{
	struct cfg c;
	char err[512] = "", text[128], want[128];
	ok(load("[stripe]\ntopup_rate = 20000\nproduct_name = Tokens\n[retention]\nholds_days = 7\n"
		"[widget]\norigins = https://app.example\n[notify]\nretry_hours = 48\n"
		"[gateway]\nmax_streams = 8\non_client_gone = cancel\n[ledger]\nsignup_bonus_micros = 5\n",
		&c, err, sizeof(err)) == 0, "a key of each module loads: %s", err);
	is_int(ledger_config_of(&c)->topup_rate, 20000, "[stripe] topup_rate: in the ledger's block");
	is_str(stripe_config_of(&c)->product_name, "Tokens", "[stripe] product_name: in the Stripe module's block");
	is_int(ledger_config_of(&c)->retention_holds_days, 7, "[retention] holds_days: in the ledger's block");
	is_str(widget_config_of(&c)->origins, "https://app.example", "[widget] origins: in the widget's block");
	ok(widget_config_origin_allowed(widget_config_of(&c), "https://APP.example"), "which its origin check reads");
	is_int(notify_config_of(&c)->retry_hours, 48, "[notify] retry_hours: in the push's block");
	is_int(gwconfig_of(&c)->max_streams, 8, "[gateway] max_streams: in the gateway's block");
	ok(gwconfig_of(&c)->drain == 0, "the gateway's finish derived on_client_gone = cancel");
	is_int(c.signup_bonus_micros, 5, "[ledger] signup_bonus_micros: in core's struct cfg");
	config_free(&c);
	config_free(&c);
	ok(1, "a second config_free is harmless");
	static const char *const sections[] = {"stripe", "retention", "widget", "notify", "gateway"};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\nbogus = 1\n", sections[i]);
		snprintf(want, sizeof(want), "config:2: unknown key 'bogus' in [%s]", sections[i]);
		ok(load(text, &c, err, sizeof(err)) != 0, "an unknown key in [%s] refused", sections[i]);
		is_str(err, want, "with the message it always had");
		config_free(&c);
	}
	ok(load("[notify]\ntopup_rate = 1\n", &c, err, sizeof(err)) != 0, "another section's key is unknown here");
	is_str(err, "config:2: unknown key 'topup_rate' in [notify]", "named with the section");
	config_free(&c);
	/* Before any section, a name several tables share is the first
	 * table's, as it was in the one table: [stripe]'s, not [notify]'s. */
	ok(load("timeout_ms = 3000\n", &c, err, sizeof(err)) == 0, "a key before any section: %s", err);
	ok(ledger_config_of(&c)->stripe_timeout_ms == 3000 && notify_config_of(&c)->timeout_ms == 5000,
	   "is stripe.timeout_ms");
	config_free(&c);
	setenv("CREDITD_NOTIFY_URL", "https://hooks.example/creditd", 1);
	setenv("CREDITD_NOTIFY_SECRET", WHSEC_A, 1);
	setenv("CREDITD_OPENAI_BASE_URL", "http://127.0.0.1:9/v1", 1);
	ok(load_file("/dev/null", &c, err, sizeof(err)) == 0, "modules' keys from the environment: %s", err);
	is_str(notify_config_of(&c)->url, "https://hooks.example/creditd", "CREDITD_NOTIFY_URL in the push's block");
	is_str(gwconfig_of(&c)->openai_base_url, "http://127.0.0.1:9/v1", "CREDITD_OPENAI_BASE_URL in the gateway's");
	config_free(&c);
	setenv("CREDITD_OPENAI_BASE_URL", "http://api.example/v1", 1);
	ok(load_file("/dev/null", &c, err, sizeof(err)) != 0, "a module's finish checks the environment's value too");
	is_str(err, "gateway.openai_base_url must be https:// (http:// only to 127.0.0.1, [::1] or localhost): "
	       "http://api.example/v1", "with the message it always had");
	config_free(&c);
	unsetenv("CREDITD_NOTIFY_URL");
	unsetenv("CREDITD_NOTIFY_SECRET");
	unsetenv("CREDITD_OPENAI_BASE_URL");
	const struct config_module *partial[CONFIG_MODULES];
	memcpy(partial, test_modules, sizeof(partial));
	partial[CONFIG_MODULE_WIDGET] = NULL;
	ok(config_load_string("", partial, &c, err, sizeof(err)) != 0 && strstr(err, "modules") != NULL,
	   "a list without the widget's module refused: %s", err);
	config_free(&c);
	partial[CONFIG_MODULE_WIDGET] = &notify_config_module;
	ok(config_load_string("", partial, &c, err, sizeof(err)) != 0, "a module at another's slot refused");
	config_free(&c);
}

static int write_conf(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

/* Shared hosting without suEXEC (docs/shared-hosting.md): Apache's user
 * runs creditd and must read the site user's file. Readable by others it
 * loads only when the file itself says security.config_readable_by_others
 * = true, and then it is flagged for creditd's warning; writable by others
 * it never loads. A file that says it but is private is not flagged. */
static void shared_hosting_opt_in(const char *path)
{
	struct cfg c;
	char err[512] = "";
	static const char opened[] = "[database]\npassword = pw\n[security]\nconfig_readable_by_others = true\n";
	ok(write_conf(path, opened, 0644) == 0, "written 0644 with the opt-in");
	ok(load_file(path, &c, err, sizeof(err)) == 0, "0644 with config_readable_by_others = true loads: %s", err);
	ok(c.config_open_to_others == 1, "and is flagged as open to others");
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n[security]\nconfig_readable_by_others = false\n", 0644) == 0,
	   "written 0644, opt-in false");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "config_readable_by_others") != NULL,
	   "false is the default: refused, and the message names the way out: %s", err);
	config_free(&c);
	ok(write_conf(path, opened, 0646) == 0, "written 0646 with the opt-in");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "writable by others") != NULL &&
	   strstr(err, "0646") != NULL, "writable by others: refused even so: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0602) == 0, "written 0602");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "writable by others") != NULL,
	   "a secret in a file others may write: refused: %s", err);
	config_free(&c);
	ok(write_conf(path, opened, 0600) == 0, "written 0600 with the opt-in");
	ok(load_file(path, &c, err, sizeof(err)) == 0 && c.config_open_to_others == 0,
	   "private with the opt-in: loads, not flagged: %s", err);
	config_free(&c);
	setenv("CREDITD_CONFIG_READABLE_BY_OTHERS", "true", 1);
	ok(write_conf(path, "[database]\npassword = pw\n", 0644) == 0, "written 0644");
	ok(load_file(path, &c, err, sizeof(err)) != 0, "the environment cannot say it for the file");
	config_free(&c);
	unsetenv("CREDITD_CONFIG_READABLE_BY_OTHERS");
}

/* Who may write a config: never others, secret or not (whoever writes
 * it picks the database and the Stripe endpoint the environment's secrets
 * go to); not the group either when it holds a secret (on a shared host
 * the group may be every customer's). The package's root:creditd 0640 and
 * ./dev's 0600 load. */
static void nobody_else_writes(const char *path)
{
	struct cfg c;
	char err[512] = "";
	static const char plain[] = "[server]\nthreads = 4\n";
	ok(write_conf(path, plain, 0646) == 0, "written 0646, no secret in it");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, path) != NULL &&
	   strstr(err, "writable by others") != NULL && strstr(err, "0646") != NULL,
	   "no secret, writable by others: refused, naming the file and the mode: %s", err);
	config_free(&c);
	ok(write_conf(path, plain, 0662) == 0, "written 0662, no secret in it");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "chmod o-w") != NULL,
	   "no secret, writable by all: refused: %s", err);
	config_free(&c);
	ok(write_conf(path, plain, 0664) == 0, "written 0664, no secret in it");
	ok(load_file(path, &c, err, sizeof(err)) == 0, "no secret, writable by the group: loads: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0660) == 0, "written 0660 with a password");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "database.password") != NULL &&
	   strstr(err, "writable by its group") != NULL && strstr(err, "0660") != NULL,
	   "a secret in a file its group may write: refused, naming the key and the mode: %s", err);
	config_free(&c);
	ok(write_conf(path, "[stripe]\nsecret_key = sk_test_x\n[security]\nconfig_readable_by_others = true\n", 0664) == 0,
	   "written 0664 with a Stripe key and the opt-in");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "writable by its group") != NULL,
	   "the opt-in is for reading, not writing: refused: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0620) == 0, "written 0620 with a password");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "writable by its group") != NULL,
	   "group-writable, even unreadable by it: refused: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0640) == 0 &&
	   load_file(path, &c, err, sizeof(err)) == 0, "0640 with a password (the package's) loads: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0600) == 0 &&
	   load_file(path, &c, err, sizeof(err)) == 0, "0600 with a password (./dev's) loads: %s", err);
	config_free(&c);
}

/* A config file holding a secret is refused when others may read it,
 * naming the file; without a secret, or 0640, it loads. */
static void secret_files_are_private(void)
{
	struct cfg c;
	char err[512] = "", path[] = "/tmp/creditd-test-config-XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0, "temp file");
	if (fd < 0)
		return;
	close(fd);
	ok(write_conf(path, "[database]\npassword = pw\n", 0644) == 0, "written 0644");
	ok(load_file(path, &c, err, sizeof(err)) != 0, "a world-readable config with a password refused");
	ok(strstr(err, path) != NULL && strstr(err, "database.password") != NULL && strstr(err, "0644") != NULL,
	   "message names the file, the key and the mode: %s", err);
	config_free(&c);
	ok(write_conf(path, "[database]\npassword = pw\n", 0640) == 0, "written 0640");
	ok(load_file(path, &c, err, sizeof(err)) == 0, "0640 loads: %s", err);
	config_free(&c);
	ok(write_conf(path, "[stripe]\nsecret_key = sk_test_x\n", 0604) == 0, "written 0604");
	ok(load_file(path, &c, err, sizeof(err)) != 0 && strstr(err, "stripe.secret_key") != NULL,
	   "a Stripe key in a file others may read refused: %s", err);
	config_free(&c);
	ok(write_conf(path, "[server]\nthreads = 4\n[database]\npassword =\n", 0644) == 0, "written 0644");
	ok(load_file(path, &c, err, sizeof(err)) == 0, "no secret in it: 0644 loads: %s", err);
	config_free(&c);
	shared_hosting_opt_in(path);
	nobody_else_writes(path);
	/* creditctl migrate's owner user and its password file. */
	ok(write_conf(path, "[database]\nuser = rt\npassword = rtpw\nmigrate_user = own\nmigrate_password = ownpw\n",
		      0600) == 0, "written 0600");
	ok(load_file(path, &c, err, sizeof(err)) == 0, "migrate user loads: %s", err);
	ok(config_use_migrate_user(&c, NULL, NULL, err, sizeof(err)) == 0, "switch to the owner");
	is_str(c.db_user, "own", "the owner from the config");
	is_str(c.db_password, "ownpw", "its password");
	config_free(&c);
	ok(load_file(path, &c, err, sizeof(err)) == 0, "loads again");
	char pwfile[] = "/tmp/creditd-test-pw-XXXXXX";
	fd = mkstemp(pwfile);
	if (fd >= 0)
		close(fd);
	ok(fd >= 0 && write_conf(pwfile, "filepw\n", 0600) == 0, "password file");
	ok(config_use_migrate_user(&c, "other", pwfile, err, sizeof(err)) == 0, "--user and --password-file: %s", err);
	is_str(c.db_user, "other", "--user wins");
	is_str(c.db_password, "filepw", "the file's first line, without its newline");
	ok(write_conf(pwfile, "filepw\n", 0644) == 0 && config_use_migrate_user(&c, "x", pwfile, err, sizeof(err)) != 0 &&
	   strstr(err, pwfile) != NULL, "a password file others may read refused: %s", err);
	config_free(&c);
	unlink(pwfile);
	unlink(path);
}

int main(void)
{
	struct cfg c;
	char err[512] = "";

	ok(load("", &c, err, sizeof(err)) == 0, "empty config loads defaults");
	is_int(c.threads, 64, "default threads: above Debian's Apache pool (6 x 8) and nginx's up to 7 CPUs");
	is_int(c.max_body_bytes, 65536, "default body limit 64 KiB");
	is_str(c.base_path, "/", "default base path");
	is_int(stripe_config_of(&c)->topup_min_cents, 500, "default top-up minimum");
	is_int(stripe_config_of(&c)->topup_max_cents, 100000, "default top-up maximum");
	is_int(ledger_config_of(&c)->topup_rate, 10000, "default top-up rate");
	is_int(c.hold_ttl_seconds, 600, "default hold ttl");
	is_str(ledger_config_of(&c)->stripe_currency, "eur", "Stripe currency follows ledger currency");
	ok(c.capture_expired == 0, "expired holds are released by default");
	is_int(ledger_config_of(&c)->topups_per_hour, 10, "default top-ups per hour");
	ok(ledger_config_of(&c)->suspend_on_dispute == 1, "a dispute suspends by default");
	ok(ledger_config_of(&c)->suspend_when_unpaid == 0, "an unpaid subscription does not suspend by default");
	config_free(&c);

	ok(load("[stripe]\ntopups_per_hour = 3\nsuspend_on_dispute = false\nsuspend_when_unpaid = true\n", &c, err,
		sizeof(err)) == 0, "Stripe trust keys load: %s", err);
	is_int(ledger_config_of(&c)->topups_per_hour, 3, "top-ups per hour read");
	ok(ledger_config_of(&c)->suspend_on_dispute == 0, "suspend_on_dispute false read");
	ok(ledger_config_of(&c)->suspend_when_unpaid == 1, "suspend_when_unpaid true read");
	config_free(&c);
	ok(load("[stripe]\nsuspend_on_dispute = no\n", &c, err, sizeof(err)) != 0, "a boolean is true or false");
	ok(strstr(err, "stripe.suspend_on_dispute") != NULL, "message names the key: %s", err);
	config_free(&c);
	ok(load("[stripe]\ntopups_per_hour = 0\n", &c, err, sizeof(err)) != 0, "top-ups per hour at least 1");
	config_free(&c);

	ok(load("[server]\nthreads = 4\nbase_path = /credits/\n[ledger]\ncurrency = USD\n"
		"signup_bonus_micros = 10000000\nexpired_holds = capture\n[stripe]\n"
		"webhook_secrets = " WHSEC_A ", " WHSEC_B " \n", &c, err, sizeof(err)) == 0, "full config loads: %s", err);
	is_int(c.threads, 4, "threads read");
	is_str(c.base_path, "/credits", "trailing slash of base path dropped");
	is_int(c.signup_bonus_micros, 10000000, "signup bonus read");
	ok(c.capture_expired == 1, "capture policy read");
	is_int(stripe_config_of(&c)->webhook_secret_count, 2, "two webhook secrets");
	is_str(stripe_config_of(&c)->webhook_secrets[1], WHSEC_B, "second secret trimmed");
	is_str(ledger_config_of(&c)->stripe_currency, "usd", "Stripe currency lower-cased");
	config_free(&c);

	ok(load("[server]\nthreadz = 4\n", &c, err, sizeof(err)) != 0, "unknown key refused");
	ok(strstr(err, "threadz") != NULL && strstr(err, ":2") != NULL, "message names key and line: %s", err);
	config_free(&c);
	ok(load("[server]\nthreads = many\n", &c, err, sizeof(err)) != 0, "non-integer refused");
	ok(strstr(err, "server.threads") != NULL, "message names the key: %s", err);
	config_free(&c);
	ok(load("[server]\nthreads = 0\n", &c, err, sizeof(err)) != 0, "out-of-range refused");
	config_free(&c);
	ok(load("[ledger]\nexpired_holds = keep\n", &c, err, sizeof(err)) != 0, "bad enum refused");
	ok(strstr(err, "release|capture") != NULL, "message lists the choices: %s", err);
	config_free(&c);
	ok(load("[nowhere]\n", &c, err, sizeof(err)) != 0, "unknown section refused");
	config_free(&c);
	ok(load("[stripe]\ntopup_min_cents = 900\ntopup_max_cents = 800\n", &c, err, sizeof(err)) != 0,
	   "min above max refused");
	config_free(&c);
	/* docs/configuration.md, "topup_rate": the largest top-up is one
	 * grant, at most 10^12 micros. */
	ok(load("[stripe]\ntopup_max_cents = 100000000\ntopup_rate = 10001\n", &c, err, sizeof(err)) != 0 &&
	   strstr(err, "stripe.topup_max_cents") != NULL && strstr(err, "stripe.topup_rate") != NULL,
	   "a top-up above the largest grant refused, naming the keys: %s", err);
	config_free(&c);
	ok(load("[stripe]\ntopup_max_cents = 1000\ntopup_rate = 1000000000\n", &c, err, sizeof(err)) == 0,
	   "a top-up of exactly the largest grant loads: %s", err);
	config_free(&c);
	ok(load("[stripe]\ntopup_max_cents = 1001\ntopup_rate = 1000000000\n", &c, err, sizeof(err)) != 0,
	   "one cent more is refused");
	config_free(&c);
	/* [retention] (docs/decisions.md, "Retention"): days, 0 keeps everything; Stripe event
	 * ids at least 30 days when purged at all. */
	ok(load("", &c, err, sizeof(err)) == 0, "defaults: %s", err);
	is_int(ledger_config_of(&c)->retention_stripe_events_days, 90, "Stripe event ids kept 90 days by default");
	is_int(ledger_config_of(&c)->retention_holds_days, 30, "finished holds kept 30 days by default");
	config_free(&c);
	ok(load("[retention]\nstripe_events_days = 0\nholds_days = 0\n", &c, err, sizeof(err)) == 0,
	   "0 (never purge) loads: %s", err);
	ok(ledger_config_of(&c)->retention_stripe_events_days == 0 && ledger_config_of(&c)->retention_holds_days == 0,
	   "0 read for both");
	config_free(&c);
	ok(load("[retention]\nstripe_events_days = 30\nholds_days = 1\n", &c, err, sizeof(err)) == 0 &&
	   ledger_config_of(&c)->retention_stripe_events_days == 30 && ledger_config_of(&c)->retention_holds_days == 1,
	   "the least days load: %s", err);
	config_free(&c);
	ok(load("[retention]\nstripe_events_days = 36500\nholds_days = 36500\n", &c, err, sizeof(err)) == 0,
	   "a hundred years loads: %s", err);
	config_free(&c);
	static const char *const bad_retention[] = {
		"holds_days = -1", "holds_days = 36501", "holds_days = 7d", "holds_days =", "stripe_events_days = -1",
		"stripe_events_days = 36501", "stripe_events_days = 29", "stripe_events_days = 1",
	};
	for (size_t i = 0; i < sizeof(bad_retention) / sizeof(bad_retention[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[retention]\n%s\n", bad_retention[i]);
		const char *key = strncmp(bad_retention[i], "holds", 5) == 0 ? "retention.holds_days"
									   : "retention.stripe_events_days";
		ok(load(text, &c, err, sizeof(err)) != 0 && strstr(err, key) != NULL, "%s refused, naming the key: %s",
		   bad_retention[i], err);
		config_free(&c);
	}
	ok(load("[ledger]\nholds_days = 30\n", &c, err, sizeof(err)) != 0, "holds_days is a [retention] key");
	config_free(&c);
	/* A finished hold outlives its authorize's Idempotency-Key by a day
	 * at least: holds_days in seconds, or the key's ttl and a day. */
	ok(load("", &c, err, sizeof(err)) == 0, "defaults: %s", err);
	is_int(ledger_config_of(&c)->retention_holds_seconds, 30 * 86400,
	       "30 days by default (the key's 24 h and a day are less)");
	config_free(&c);
	ok(load("[ledger]\nidempotency_ttl_hours = 960\n", &c, err, sizeof(err)) == 0, "a 40-day key: %s", err);
	is_int(ledger_config_of(&c)->retention_holds_seconds, (960 + 24) * 3600,
	       "holds kept the key's 40 days and a day");
	config_free(&c);
	ok(load("[ledger]\nidempotency_ttl_hours = 48\n[retention]\nholds_days = 1\n", &c, err, sizeof(err)) == 0,
	   "holds_days shorter than the key loads: %s", err);
	is_int(ledger_config_of(&c)->retention_holds_seconds, 72 * 3600,
	       "a day of holds_days becomes the key's 48 h and a day");
	config_free(&c);
	ok(load("[ledger]\nidempotency_ttl_hours = 48\n[retention]\nholds_days = 3\n", &c, err, sizeof(err)) == 0,
	   "holds_days longer than the key: %s", err);
	is_int(ledger_config_of(&c)->retention_holds_seconds, 3 * 86400, "holds_days when it is the longer");
	config_free(&c);
	ok(load("[ledger]\nidempotency_ttl_hours = 8760\n[retention]\nholds_days = 0\n", &c, err, sizeof(err)) == 0,
	   "holds_days 0: %s", err);
	is_int(ledger_config_of(&c)->retention_holds_seconds, -1, "0 keeps holds for ever, whatever the key");
	config_free(&c);

	ok(load("just words\n", &c, err, sizeof(err)) != 0, "line without = refused");
	config_free(&c);
	ok(load("[ledger]\ncurrency = euro\n", &c, err, sizeof(err)) != 0, "bad currency refused");
	config_free(&c);

	ok(load("[stripe]\nsuccess_url = https://app.example/ok\nallowed_redirect_origins = https://shop.example\n",
		&c, err, sizeof(err)) == 0, "redirect config loads");
	const struct stripe_config *sc = stripe_config_of(&c);
	ok(stripe_config_redirect_allowed(sc, "https://shop.example/return?x=1"), "listed origin allowed");
	ok(stripe_config_redirect_allowed(sc, "https://app.example/other"), "success_url origin allowed");
	ok(!stripe_config_redirect_allowed(sc, "https://evil.example/"), "other origin refused");
	ok(!stripe_config_redirect_allowed(sc, "https://shop.example.evil.example/"), "suffix trick refused");
	ok(!stripe_config_redirect_allowed(sc, "javascript:alert(1)"), "non-http refused");
	config_free(&c);

	/* database.nodes: the Galera nodes, else the one node of host/port. */
	ok(load("[database]\nhost = db.example\nport = 3307\n", &c, err, sizeof(err)) == 0, "one node: %s", err);
	is_int(c.db_node_count, 1, "no nodes: the one of host and port");
	is_str(c.db_node[0].host, "db.example", "its host");
	is_int(c.db_node[0].port, 3307, "its port");
	config_free(&c);
	ok(load("[database]\nnodes = 127.0.0.1:3307, db2.example:3308 ,[::1]:3309\n", &c, err, sizeof(err)) == 0,
	   "three nodes: %s", err);
	is_int(c.db_node_count, 3, "three nodes read");
	is_str(c.db_node[1].host, "db2.example", "spaces around an item are not part of it");
	is_str(c.db_node[1].name, "db2.example:3308", "a node's name is host:port as written");
	is_str(c.db_node[2].host, "::1", "an IPv6 address in brackets");
	is_int(c.db_node[2].port, 3309, "its port");
	config_free(&c);
	static const char *bad_nodes[] = {"127.0.0.1", "127.0.0.1:", ":3306", "a:1,,b:2", "a:0", "a:65536",
					  "a:33x", "::1:3306", "[::1]3306", "a b:3306", "a:1,a:1",
					  "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1,j:1"};
	for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[database]\nnodes = %s\n", bad_nodes[i]);
		ok(load(text, &c, err, sizeof(err)) != 0 && strstr(err, "database.nodes") != NULL,
		   "nodes = %s refused: %s", bad_nodes[i], err);
		config_free(&c);
	}

	setenv("CREDITD_DB_NAME", "fromenv", 1);
	setenv("CREDITD_CONFIG", "/nonexistent/creditd.conf", 1);
	ok(load_file(NULL, &c, err, sizeof(err)) != 0, "explicit missing config file is an error");
	config_free(&c);
	unsetenv("CREDITD_CONFIG");
	/* A directory named as the config is refused for what it is, not
	 * for a size it does not have. */
	ok(load_file("/", &c, err, sizeof(err)) != 0 && strstr(err, "cannot read /: Is a directory") != NULL,
	   "a directory as the config is named as one: %s", err);
	config_free(&c);
	ok(load_file("/dev/null", &c, err, sizeof(err)) == 0, "env overrides load: %s", err);
	is_str(c.db_name, "fromenv", "CREDITD_DB_NAME overrides");
	config_free(&c);
	secrets_are_long();
	modules_own_their_keys();
	secret_files_are_private();
	return done_testing();
}
