/* config.h: creditd's configuration, loaded once at start-up.
 *
 * One INI-style file (`key = value`, `[section]`, `#`/`;` comments) read
 * through tables of {section, key, type, offset, range, default}: core's
 * (config.c, into struct cfg) and one beside each module's code (into
 * the module's block, struct cfg's module[]); then the CREDITD_*
 * environment overrides (docs/configuration.md). An unknown key or a bad value
 * fails the load with a message naming the key and line. Signing
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

/* A key's type: text, an integer from min to max, one of choices, a
 * secret (text a file others may read must not hold), or secret lines
 * (text that each `key = value` of the key adds one "\n"-ended line to,
 * as a provider's headers, which may carry a credential: a secret too;
 * the environment's value is one line). */
enum config_type { CONFIG_STR, CONFIG_INT, CONFIG_ENUM, CONFIG_SECRET, CONFIG_SECRET_LINES };

/* One key of a config table: core's (config.c, offsets in struct cfg) or
 * a module's (beside its code, offsets in the module's struct). */
struct config_key {
	const char *section;
	const char *key;
	enum config_type type;
	size_t offset;			/* of a char * (CONFIG_INT: of an int64_t) */
	int64_t min, max;		/* CONFIG_INT */
	const char *def;		/* default, as text */
	const char *choices;		/* CONFIG_ENUM: "a|b|c" */
	const char *env;		/* environment override, or NULL */
	/* A check of the value beyond its type, or NULL: returns NULL when
	 * the value passes, else the rest of a sentence naming the key. */
	const char *(*valid)(const char *value);
};

/* The modules that declare keys of their own beside their code (nginx's
 * ngx_command_t), each a slot of struct cfg's module[] (nginx's module
 * index). Their tables are read after core's and in this order (the
 * defaults, the environment, the first secret a file sets, the
 * finishes): the order of the one table they were cut from, so that a
 * message names the key it named before. A module's finish may read a
 * lower slot's block (stripe's reads the ledger's topup_rate). */
#define CONFIG_MODULE_LIST(X)                                                                         \
	X(LEDGER, ledger_config_module)	/* ledger/ledger_config.c: what the ledger reads of [stripe]; [retention] */ \
	X(STRIPE, stripe_config_module)	/* stripe/stripe_config.c: the rest of [stripe] */             \
	X(WIDGET, widget_config_module)	/* core/widget_config.c: [widget] */                         \
	X(NOTIFY, notify_config_module)	/* jobs/notify_config.c: [notify] */                         \
	X(EMAIL, email_config_module)	/* jobs/email_config.c: [email] */                           \
	X(GATEWAY, gwconfig_module)	/* gateway/gwconfig.c: [gateway] */
#define CONFIG_MODULE_SLOT(slot, descriptor) CONFIG_MODULE_##slot,
enum config_slot { CONFIG_MODULE_LIST(CONFIG_MODULE_SLOT) CONFIG_MODULES };
/* A program's list of every module's descriptor, at its slot, for
 * config_load (the program includes each module's header):
 *	static const struct config_module *const modules[CONFIG_MODULES] = {
 *		CONFIG_MODULE_LIST(CONFIG_MODULE_ENTRY)
 *	}; */
#define CONFIG_MODULE_ENTRY(slot, descriptor) [CONFIG_MODULE_##slot] = &descriptor,

struct cfg;

/* A module's keys. A program hands config_load every slot's descriptor
 * (src/http/main.c and src/ctl/creditctl.c, each from CONFIG_MODULE_LIST:
 * no layer below both sees every module), and the loader allocates the module's
 * block (size bytes, zeroed), fills it from keys, and frees it in
 * config_free. A section may be shared by several modules' tables (a key
 * sits in the lowest module that reads it); a key is in one table only. */
struct config_module {
	const char *name;
	enum config_slot slot;
	const struct config_key *keys;
	size_t nkeys;
	size_t size;
	/* After the file and the environment: checks across keys and
	 * derived values, core's keys and lower slots' blocks final. 0, or
	 * -1 with a sentence in err. NULL: nothing to do. */
	int (*finish)(const struct cfg *c, void *block, char *err, size_t errcap);
	/* Frees what finish made (the keys' strings are the loader's).
	 * NULL: nothing. */
	void (*release)(void *block);
	/* Its named sections, "[WORD NAME]" (nginx's upstream blocks), or
	 * NULL: none. */
	const struct config_named *named;
};

/* A module's named sections: "[provider deepseek]" opens one of word
 * "provider" named "deepseek", whose keys are keys (section "provider
 * NAME" in the docs), each section read into a block of its own of size
 * bytes, defaults first; a section opened again is the same one (a key
 * given again wins, as anywhere). The module's finish reads them in file
 * order (config_named_at). No environment variable sets them. */
struct config_named {
	const char *word;		/* "provider" */
	const char *doc_section;	/* "provider NAME": the keys' section in the docs */
	const struct config_key *keys;
	size_t nkeys;
	size_t size;
	/* The name's check beyond 1 to LIMIT_CONFIG_NAME_BYTES - 1 of
	 * [a-z0-9_-]: NULL when it passes, else the rest of a sentence. May
	 * be NULL. */
	const char *(*name_valid)(const char *name);
};

/* What core reads and what the layers share ([server], [database],
 * [ledger], [security]); each module's keys are in its block, read
 * through its accessor (ledger_config_of, stripe_config_of, ...). */
struct cfg {
	/* [server] */
	char *listen;			/* "unix:PATH", "HOST:PORT", or "" for fd 0 */
	char *socket_mode;		/* octal permissions of a unix socket */
	int64_t threads;
	char *base_path;		/* "/" or "/credits" (no trailing slash kept) */
	int64_t max_body_bytes;
	char *log;			/* "stderr", "syslog" or a file path */
	char *log_level;		/* error|warn|info|debug */
	char *log_format;		/* text|json */
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
	char *db_tls_text;		/* off|required|verify, or "" : by host (db_tls) */
	char *db_ca_file;		/* PEM CAs the server's certificate must chain to; "" : the system's */
	char *db_cert_file;		/* a client certificate (PEM) and its key, or both "" */
	char *db_key_file;
	/* [ledger] */
	char *currency;			/* "EUR", "USD", ... or "credits" */
	int64_t signup_bonus_micros;
	char *expired_holds;		/* release|capture */
	int64_t hold_ttl_seconds;	/* default ttl_seconds of a hold */
	int64_t idempotency_ttl_hours;
	/* [security] (docs/operations.md, "Failed authentication") */
	int64_t auth_failures_per_minute;	/* per client address; past it 429; 0 : never throttled */
	char *config_readable_by_others_text;	/* true|false: a file holding secrets may be o+r */

	/* The modules config_load was given, by slot, and each one's block. */
	const struct config_module *const *modules;
	void *module[CONFIG_MODULES];
	/* The named sections read, in file order (config_named_at). */
	struct config_section {
		char name[LIMIT_CONFIG_NAME_BYTES];
		size_t slot;		/* its module's */
		void *block;
	} named[LIMIT_CONFIG_NAMED];
	size_t nnamed;

	/* Derived at load time. */
	int capture_expired;		/* expired_holds == capture */
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
	/* database.tls resolved (config_tls.c): every node's connection. */
	enum cfg_tls { CFG_TLS_OFF, CFG_TLS_REQUIRED, CFG_TLS_VERIFY } db_tls;
};

/* One key of the config tables, as creditd.conf(5) and the example config
 * must describe it (tests/unit/core/test_config_docs.c checks both against it). */
struct cfg_doc {
	const char *section, *key, *def;
	const char *choices;		/* an enum's "a|b|c", else NULL */
	const char *env;		/* NULL: none */
	int is_int, is_secret;
	int64_t min, max;		/* integers */
};
/* The number of keys, core's and every module's of modules (core's
 * first, then by slot); fills d for key i when i is below it. */
size_t config_describe(const struct config_module *const modules[CONFIG_MODULES], size_t i, struct cfg_doc *d);

/* Section i of module slot's named sections, in file order: its block,
 * *name its name; NULL past the last. */
const void *config_named_at(const struct cfg *c, size_t slot, size_t i, const char **name);

/* The config file path names (-c's value, or NULL): path, else
 * $CREDITD_CONFIG, else CFG_DEFAULT_PATH. */
const char *config_path(const char *path);
/* Loads defaults, then `path` (NULL: $CREDITD_CONFIG, else the default
 * path, which may be absent), then the environment, into core's fields
 * and a block for each of modules (every slot's descriptor, at its slot).
 * Returns 0, or -1 with a sentence naming the key (and line) in err. The
 * caller frees with config_free, also after a failure. */
int config_load(const char *path, const struct config_module *const modules[CONFIG_MODULES], struct cfg *c,
		char *err, size_t errcap);
/* Same from a string, for tests; env overrides are not applied. */
int config_load_string(const char *text, const struct config_module *const modules[CONFIG_MODULES], struct cfg *c,
		       char *err, size_t errcap);
void config_free(struct cfg *c);
/* For creditctl migrate: makes the database user and password those of
 * the schema owner. user: --user, else [database] migrate_user, else the
 * runtime user is kept (one user for both, as before). The password:
 * password_file's first line when given (a file readable by others is
 * refused), else [database] migrate_password when a user other than the
 * runtime one is used. Returns 0, or -1 with a sentence in err. */
int config_use_migrate_user(struct cfg *c, const char *user, const char *password_file, char *err, size_t errcap);

/* For the modules' tables and finishes: */
/* err as printf makes it; returns -1. */
__attribute__((format(printf, 3, 4)))
int config_fail(char *err, size_t errcap, const char *fmt, ...);
/* A signing secret's check (a key's valid): empty (the feature is off)
 * or at least LIMIT_SECRET_MIN_BYTES, counted whole (a "whsec_" prefix
 * included). */
const char *config_long_secret(const char *v);
/* Every URL creditd sends secrets or money to is https, or http to a
 * loopback address (a stand-in on the same host), refused at start and
 * by --check-config, not at the first top-up or event: 0 when url (the
 * value of key, "stripe.api_base") is one or is empty, else -1 with a
 * sentence in err. */
int config_url_ok(const char *url, const char *key, char *err, size_t errcap);

/* database.tls's validator: "", off, required or verify (NULL), else why
 * not. */
const char *config_tls_valid(const char *v);
/* database.tls and its files checked and c->db_tls set (config_tls.c):
 * "" resolves to verify unless every node is loopback (a unix socket,
 * localhost, 127.0.0.0/8, ::1) and no ca_file or cert_file is set, then
 * off; the files named must be regular files this user can open, the
 * key file not readable by others (it is a secret); 0, or -1 with err
 * set naming the key. Part of config_load's finish. */
int config_tls_finish(struct cfg *c, char *err, size_t errcap);
/* 1 when host (a node's, as configured) is this machine: "", localhost,
 * 127.0.0.0/8 or ::1. */
int config_tls_loopback(const char *host);
/* The first node ("host:port") c connects to that is not this machine,
 * or NULL (a unix socket, or every node loopback); the string lives in c. */
const char *config_tls_remote(const struct cfg *c);
/* 1 when origin ("https://app.example" as a browser sends it) is one of
 * list, comma- or space-separated origins (case-insensitively, a
 * trailing '/' of a listed one ignored). */
int config_origin_listed(const char *list, const char *origin);
#endif
