/* config.h: creditd's configuration, loaded once at start-up.
 *
 * One INI-style file (`key = value`, `[section]`, `#`/`;` comments) read
 * through a table of {section, key, type, offset, range, default}; then the
 * CREDITD_* environment overrides of DESIGN §5. An unknown key or a bad
 * value fails the load with a message naming the key and line. Signing
 * secrets shorter than LIMIT_SECRET_MIN_BYTES are refused, and so is a
 * file that holds a secret and is writable by others, or readable by
 * others unless the file itself sets security.config_readable_by_others.
 * The struct is read-only after config_load and shared by all threads. */
#ifndef CREDITD_CONFIG_H
#define CREDITD_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "limits.h"

/* The config a command reads without -c or $CREDITD_CONFIG: configure's
 * $(sysconfdir)/creditd/creditd.conf (/etc/creditd for a system prefix,
 * as the package and the units have it). */
#ifdef CREDITD_CONFIG_PATH
#define CFG_DEFAULT_PATH CREDITD_CONFIG_PATH
#else
#define CFG_DEFAULT_PATH "/etc/creditd/creditd.conf"
#endif

struct cfg {
	/* [server] */
	char *listen;			/* "unix:PATH", "HOST:PORT", or "" for fd 0 */
	char *socket_mode;		/* octal permissions of a unix socket */
	int64_t threads;
	char *base_path;		/* "/" or "/credits" (no trailing slash kept) */
	int64_t max_body_bytes;
	char *log;			/* "stderr", "syslog" or a file path */
	char *log_level;
	char *log_format;		/* text|json */		/* error|warn|info|debug */
	int64_t sweep_interval_seconds;
	/* [database] */
	char *db_host;
	int64_t db_port;
	char *db_socket;
	char *db_nodes;			/* "host:port,host:port,…" of a Galera cluster, or "" */
	char *db_name;
	char *db_user;
	char *db_password;
	char *db_migrate_user;		/* the schema owner creditctl migrate connects as; "" : none set */
	char *db_migrate_password;
	int64_t db_connect_timeout_seconds;
	int64_t db_read_timeout_seconds;	/* a statement's answer; the longest a stall holds a request */
	int64_t db_write_timeout_seconds;
	int64_t db_health_timeout_seconds;	/* the watchdog's ping and connect */
	/* [ledger] */
	char *currency;			/* "EUR", "USD", ... or "credits" */
	int64_t signup_bonus_micros;
	char *expired_holds;		/* release|capture */
	int64_t hold_ttl_seconds;	/* default ttl_seconds of a hold */
	int64_t idempotency_ttl_hours;
	int64_t low_balance_default_micros;
	/* [stripe] */
	char *stripe_secret_key;
	char *stripe_webhook_secrets;	/* comma-separated */
	char *stripe_api_base;
	int64_t stripe_connect_timeout_ms;
	int64_t stripe_timeout_ms;
	int64_t topup_min_cents;
	int64_t topup_max_cents;
	int64_t topup_rate;		/* micros per cent */
	char *stripe_currency;		/* lower-case ISO code sent to Stripe */
	char *product_name;
	char *success_url;
	char *cancel_url;
	char *allowed_redirect_origins;	/* comma-separated origins */
	int64_t webhook_tolerance_seconds;
	int64_t auto_recharge_max_per_day;	/* recharges per account and UTC day */
	int64_t topups_per_hour;	/* top-ups an account may start in any hour */
	char *suspend_on_dispute_text;	/* true|false */
	char *stripe_key_salt_text;	/* as configured; "" : derived */
	char *suspend_when_unpaid_text;	/* true|false */
	char *invoice_topups_text;	/* true|false */
	/* [widget] */
	char *widget_token_secret;	/* signs browser tokens; "" : none can be minted */
	char *widget_origins;		/* comma-separated origins CORS allows on /v1/me* */
	/* [notify] */
	char *notify_url;		/* "" : no push (the pull route still works) */
	char *notify_secret;
	int64_t notify_connect_timeout_ms;
	int64_t notify_timeout_ms;
	int64_t notify_retry_hours;	/* how long an event is retried before it stays undelivered */
	/* [retention] (DESIGN §10): days a row is kept; 0 : never purged */
	int64_t retention_stripe_events_days;	/* Stripe event ids, by received_at */
	int64_t retention_holds_days;	/* finished holds, by expires_at and finished_at */
	/* [security] (DESIGN §13) */
	int64_t auth_failures_per_minute;	/* per client address; past it 429; 0 : never throttled */
	char *config_readable_by_others_text;	/* true|false: a file holding secrets may be o+r */
	/* [gateway] (DESIGN §12) */
	char *gw_openai_base_url;	/* no trailing slash needed: paths are appended after one */
	char *gw_anthropic_base_url;
	char *gw_openai_api_key;	/* "" : only BYOK calls */
	char *gw_anthropic_api_key;
	char *gw_openai_organization;	/* OpenAI-Organization, when set */
	char *gw_openai_project;	/* OpenAI-Project, when set */
	char *gw_shrink_text;		/* on|off */
	char *gw_byok_text;		/* on|off */
	char *gw_provider_objects_text;	/* on|off */
	int64_t gw_min_output_tokens;	/* the least output a shrunk call keeps */
	char *gw_on_client_gone;	/* drain|cancel */
	int64_t gw_drain_seconds;	/* reading on after the client left, and SIGTERM's wait */
	int64_t gw_max_streams;		/* calls in flight; beyond them 503 */
	int64_t gw_max_streams_per_key;	/* of them, one gateway key's; beyond 429 */
	int64_t gw_max_tool_calls_held;	/* web searches a call's hold covers when it names no max (DESIGN §14) */
	int64_t gw_max_buffered_mib;	/* whole answers held in all; beyond 503 */
	int64_t gw_max_streams_per_account;	/* of them, one account's; beyond 429 */
	int64_t gw_max_body_bytes;	/* a gateway route's request body */
	int64_t gw_connect_timeout_ms;
	int64_t gw_first_byte_timeout_seconds;	/* the provider's first byte */
	int64_t gw_idle_timeout_seconds;	/* between two bytes of an answer */

	/* Derived at load time. */
	int64_t retention_holds_seconds; /* finished holds kept: holds_days, at least key ttl + a day; -1 ever */
	char *webhook_secrets[LIMIT_WEBHOOK_SECRETS];
	int webhook_secret_count;
	int capture_expired;		/* expired_holds == capture */
	int suspend_on_dispute;		/* a dispute suspends the account (status_reason dispute) */
	/* In every Idempotency-Key sent to Stripe (DESIGN §13): stripe.key_salt,
	 * or derived from the first webhook secret (config.c key_salt). */
	char stripe_key_salt[LIMIT_KEY_SALT_BYTES + 1];
	int suspend_when_unpaid;	/* a past_due/unpaid subscription suspends it (payment_failed) */
	int invoice_topups;		/* Checkout top-ups ask Stripe for an invoice (invoice_creation) */
	int gw_shrink;			/* gateway.shrink == on */
	int gw_byok;			/* gateway.byok == on: calls may bring their own provider key */
	int gw_provider_objects;	/* gateway.provider_objects == on: input stored at the provider is taken */
	int gw_drain;			/* gateway.on_client_gone == drain */
	/* The file loaded holds secrets and others may read it: its
	 * security.config_readable_by_others let it through (a warning at
	 * start). */
	int config_open_to_others;
	/* A file was read (config_load: the default path may be absent, the
	 * defaults and the environment alone then; --check-config says so). */
	int file_read;
	/* The database nodes: database.nodes split, else the one node of
	 * host, port and socket. name is "host:port" as written (routing
	 * hashes it); socket only for the single node. */
	struct cfg_node {
		char name[LIMIT_DB_NODE_BYTES];
		char host[LIMIT_DB_NODE_BYTES];
		int port;
	} db_node[LIMIT_DB_NODES];
	int db_node_count;
};

/* One key of the config table, as creditd.conf(5) and the example config
 * must describe it (tests/unit/core/test_config_docs.c checks both against it). */
struct cfg_doc {
	const char *section, *key, *def;
	const char *choices;		/* an enum's "a|b|c", else NULL */
	const char *env;		/* NULL: none */
	int is_int, is_secret;
	int64_t min, max;		/* integers */
};
/* The number of keys; fills d for key i when i is below it. */
size_t config_describe(size_t i, struct cfg_doc *d);

/* Loads defaults, then `path` (NULL: $CREDITD_CONFIG, else the default
 * path, which may be absent), then the environment. Returns 0, or -1 with
 * a sentence naming the key (and line) in err. The caller frees with
 * config_free, also after a failure. */
/* The config file path names (-c's value, or NULL): path, else
 * $CREDITD_CONFIG, else CFG_DEFAULT_PATH. */
const char *config_path(const char *path);
int config_load(const char *path, struct cfg *c, char *err, size_t errcap);
/* Same from a string, for tests; env overrides are not applied. */
int config_load_string(const char *text, struct cfg *c, char *err, size_t errcap);
void config_free(struct cfg *c);
/* For creditctl migrate: makes the database user and password those of
 * the schema owner. user: --user, else [database] migrate_user, else the
 * runtime user is kept (one user for both, as before). The password:
 * password_file's first line when given (a file readable by others is
 * refused), else [database] migrate_password when a user other than the
 * runtime one is used. Returns 0, or -1 with a sentence in err. */
int config_use_migrate_user(struct cfg *c, const char *user, const char *password_file, char *err, size_t errcap);

/* 1 when url's origin (scheme://host[:port]) is in allowed_redirect_origins,
 * or equals the origin of success_url/cancel_url. */
/* The balance.low threshold of an account whose own low_balance_micros is
 * `own` (-1: none): its own, else ledger.low_balance_default_micros. 0 or
 * less: the account is never low. The one copy of the rule (events and
 * the widget's low state). */
int64_t config_low_threshold(const struct cfg *c, int64_t own);
/* 1 when origin ("https://app.example" as a browser sends it) is one of
 * [widget] origins (exactly, case-insensitively). */
int config_widget_origin_allowed(const struct cfg *c, const char *origin);
int config_redirect_allowed(const struct cfg *c, const char *url);
#endif
