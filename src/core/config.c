/* config.c: the table-driven config loader. Every key creditd knows is one
 * row of cfg_table; nothing else parses configuration. Values are checked
 * here, at start-up, so the rest of the code can trust struct cfg. */
#include "config.h"
#include "jsonio.h"
#include "keys.h"
#include "timefmt.h"
#include "urlpath.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_ENUM, CFG_SECRET };

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;
	int64_t min, max;		/* CFG_INT */
	const char *def;		/* default, as text */
	const char *choices;		/* CFG_ENUM: "a|b|c" */
	const char *env;		/* environment override, or NULL */
	/* A check of the value beyond its type, or NULL: returns NULL when
	 * the value passes, else the rest of a sentence naming the key. */
	const char *(*valid)(const char *value);
};

/* A signing secret: empty (the feature is off) or at least
 * LIMIT_SECRET_MIN_BYTES, counted whole (a "whsec_" prefix included). */
static const char *long_secret(const char *v)
{
	size_t n = strlen(v);
	return n == 0 || n >= LIMIT_SECRET_MIN_BYTES ? NULL : "must be at least 32 bytes long";
}

/* Each secret of a comma-separated list, trimmed, as long_secret. */
static const char *long_secrets(const char *v)
{
	while (*v != '\0') {
		size_t len = strcspn(v, ",");
		const char *p = v;
		size_t n = len;
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n > 0 && n < LIMIT_SECRET_MIN_BYTES)
			return "must list secrets of at least 32 bytes each";
		v += len;
		if (*v == ',')
			v++;
	}
	return NULL;
}
_Static_assert(LIMIT_SECRET_MIN_BYTES == 32, "the messages above say 32");

#define OFF(f) offsetof(struct cfg, f)
#define I64MAX INT64_MAX

static const struct cfg_key cfg_table[] = {
	{"server", "listen", CFG_STR, OFF(listen), 0, 0, "", NULL, "CREDITD_LISTEN", NULL},
	{"server", "socket_mode", CFG_STR, OFF(socket_mode), 0, 0, "0660", NULL, NULL, NULL},
	{"server", "threads", CFG_INT, OFF(threads), 1, LIMIT_THREADS_MAX, "64", NULL, "CREDITD_THREADS", NULL},
	{"server", "base_path", CFG_STR, OFF(base_path), 0, 0, "/", NULL, "CREDITD_BASE_PATH", NULL},
	{"server", "max_body_bytes", CFG_INT, OFF(max_body_bytes), 1024, LIMIT_BODY_MAX_BYTES, "65536", NULL, NULL, NULL},
	{"server", "log", CFG_STR, OFF(log), 0, 0, "stderr", NULL, "CREDITD_LOG", NULL},
	{"server", "log_level", CFG_ENUM, OFF(log_level), 0, 0, "info", "error|warn|info|debug", NULL, NULL},
	{"server", "log_format", CFG_ENUM, OFF(log_format), 0, 0, "text", "text|json", "CREDITD_LOG_FORMAT", NULL},
	{"server", "sweep_interval_seconds", CFG_INT, OFF(sweep_interval_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "host", CFG_STR, OFF(db_host), 0, 0, "localhost", NULL, "CREDITD_DB_HOST", NULL},
	{"database", "port", CFG_INT, OFF(db_port), 0, 65535, "3306", NULL, "CREDITD_DB_PORT", NULL},
	{"database", "socket", CFG_STR, OFF(db_socket), 0, 0, "", NULL, "CREDITD_DB_SOCKET", NULL},
	{"database", "nodes", CFG_STR, OFF(db_nodes), 0, 0, "", NULL, "CREDITD_DB_NODES", NULL},
	{"database", "name", CFG_STR, OFF(db_name), 0, 0, "creditd", NULL, "CREDITD_DB_NAME", NULL},
	{"database", "user", CFG_STR, OFF(db_user), 0, 0, "creditd", NULL, "CREDITD_DB_USER", NULL},
	{"database", "password", CFG_SECRET, OFF(db_password), 0, 0, "", NULL, "CREDITD_DB_PASSWORD", NULL},
	{"database", "migrate_user", CFG_STR, OFF(db_migrate_user), 0, 0, "", NULL, "CREDITD_DB_MIGRATE_USER", NULL},
	{"database", "migrate_password", CFG_SECRET, OFF(db_migrate_password), 0, 0, "", NULL, "CREDITD_DB_MIGRATE_PASSWORD", NULL},
	{"database", "connect_timeout_seconds", CFG_INT, OFF(db_connect_timeout_seconds), 1, 60, "2", NULL, NULL, NULL},
	{"database", "read_timeout_seconds", CFG_INT, OFF(db_read_timeout_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "write_timeout_seconds", CFG_INT, OFF(db_write_timeout_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "health_timeout_seconds", CFG_INT, OFF(db_health_timeout_seconds), 1, 60, "1", NULL, NULL, NULL},
	{"ledger", "currency", CFG_STR, OFF(currency), 0, 0, "EUR", NULL, NULL, NULL},
	{"ledger", "signup_bonus_micros", CFG_INT, OFF(signup_bonus_micros), 0, I64MAX / 4, "0", NULL, NULL, NULL},
	{"ledger", "expired_holds", CFG_ENUM, OFF(expired_holds), 0, 0, "release", "release|capture", NULL, NULL},
	{"ledger", "hold_ttl_seconds", CFG_INT, OFF(hold_ttl_seconds), 1, LIMIT_HOLD_TTL_MAX_SECONDS, "600", NULL, NULL, NULL},
	{"ledger", "idempotency_ttl_hours", CFG_INT, OFF(idempotency_ttl_hours), 24, 24 * 365, "24", NULL, NULL, NULL},
	{"ledger", "low_balance_default_micros", CFG_INT, OFF(low_balance_default_micros), 0, I64MAX / 4, "0", NULL, NULL, NULL},
	{"stripe", "secret_key", CFG_SECRET, OFF(stripe_secret_key), 0, 0, "", NULL, "CREDITD_STRIPE_SECRET_KEY", NULL},
	{"stripe", "webhook_secrets", CFG_SECRET, OFF(stripe_webhook_secrets), 0, 0, "", NULL, "CREDITD_STRIPE_WEBHOOK_SECRETS", long_secrets},
	{"stripe", "api_base", CFG_STR, OFF(stripe_api_base), 0, 0, "https://api.stripe.com", NULL, "CREDITD_STRIPE_API_BASE", NULL},
	{"stripe", "connect_timeout_ms", CFG_INT, OFF(stripe_connect_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"stripe", "timeout_ms", CFG_INT, OFF(stripe_timeout_ms), 100, 120000, "20000", NULL, NULL, NULL},
	{"stripe", "topup_min_cents", CFG_INT, OFF(topup_min_cents), 1, 100000000, "500", NULL, NULL, NULL},
	{"stripe", "topup_max_cents", CFG_INT, OFF(topup_max_cents), 1, 100000000, "100000", NULL, NULL, NULL},
	{"stripe", "topup_rate", CFG_INT, OFF(topup_rate), 1, 1000000000, "10000", NULL, NULL, NULL},
	{"stripe", "currency", CFG_STR, OFF(stripe_currency), 0, 0, "", NULL, NULL, NULL},
	{"stripe", "product_name", CFG_STR, OFF(product_name), 0, 0, "Credits", NULL, NULL, NULL},
	{"stripe", "success_url", CFG_STR, OFF(success_url), 0, 0, "http://localhost/billing/success", NULL, NULL, NULL},
	{"stripe", "cancel_url", CFG_STR, OFF(cancel_url), 0, 0, "http://localhost/billing/cancel", NULL, NULL, NULL},
	{"stripe", "allowed_redirect_origins", CFG_STR, OFF(allowed_redirect_origins), 0, 0, "", NULL, NULL, NULL},
	{"stripe", "webhook_tolerance_seconds", CFG_INT, OFF(webhook_tolerance_seconds), 1, TIMEFMT_SECONDS_PER_DAY, "300", NULL, NULL, NULL},
	{"stripe", "auto_recharge_max_per_day", CFG_INT, OFF(auto_recharge_max_per_day), 1, 100, "3", NULL, NULL, NULL},
	{"stripe", "topups_per_hour", CFG_INT, OFF(topups_per_hour), 1, LIMIT_TOPUPS_PER_HOUR_MAX, "10", NULL, NULL, NULL},
	{"stripe", "suspend_on_dispute", CFG_ENUM, OFF(suspend_on_dispute_text), 0, 0, "true", "true|false", NULL, NULL},
	{"stripe", "suspend_when_unpaid", CFG_ENUM, OFF(suspend_when_unpaid_text), 0, 0, "false", "true|false", NULL, NULL},
	{"stripe", "invoice_topups", CFG_ENUM, OFF(invoice_topups_text), 0, 0, "false", "true|false", NULL, NULL},
	/* Empty: derived from the first webhook secret in finish(). */
	{"stripe", "key_salt", CFG_STR, OFF(stripe_key_salt_text), 0, 0, "", NULL, "CREDITD_STRIPE_KEY_SALT", NULL},
	{"widget", "token_secret", CFG_SECRET, OFF(widget_token_secret), 0, 0, "", NULL, "CREDITD_WIDGET_TOKEN_SECRET", long_secret},
	{"widget", "origins", CFG_STR, OFF(widget_origins), 0, 0, "", NULL, "CREDITD_WIDGET_ORIGINS", NULL},
	{"notify", "url", CFG_STR, OFF(notify_url), 0, 0, "", NULL, "CREDITD_NOTIFY_URL", NULL},
	{"notify", "secret", CFG_SECRET, OFF(notify_secret), 0, 0, "", NULL, "CREDITD_NOTIFY_SECRET", long_secret},
	{"notify", "connect_timeout_ms", CFG_INT, OFF(notify_connect_timeout_ms), 100, 60000, "2000", NULL, NULL, NULL},
	{"notify", "timeout_ms", CFG_INT, OFF(notify_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"notify", "retry_hours", CFG_INT, OFF(notify_retry_hours), 1, 24 * 7, "24", NULL, NULL, NULL},
	/* 0 keeps every row; stripe_events_days 1 to 29 is refused in finish(). */
	{"retention", "stripe_events_days", CFG_INT, OFF(retention_stripe_events_days), 0, LIMIT_RETENTION_MAX_DAYS, "90", NULL, NULL, NULL},
	{"retention", "holds_days", CFG_INT, OFF(retention_holds_days), 0, LIMIT_RETENTION_MAX_DAYS, "30", NULL, NULL, NULL},
	/* 0 never throttles. */
	{"security", "auth_failures_per_minute", CFG_INT, OFF(auth_failures_per_minute), 0, LIMIT_AUTH_FAILURES_MAX, "30", NULL, NULL, NULL},
	/* No environment variable: it judges the file, so only the file says it. */
	{"security", "config_readable_by_others", CFG_ENUM, OFF(config_readable_by_others_text), 0, 0, "false", "true|false", NULL, NULL},
	{"gateway", "openai_base_url", CFG_STR, OFF(gw_openai_base_url), 0, 0, "https://api.openai.com/v1", NULL, "CREDITD_OPENAI_BASE_URL", NULL},
	{"gateway", "anthropic_base_url", CFG_STR, OFF(gw_anthropic_base_url), 0, 0, "https://api.anthropic.com", NULL, "CREDITD_ANTHROPIC_BASE_URL", NULL},
	{"gateway", "openai_api_key", CFG_SECRET, OFF(gw_openai_api_key), 0, 0, "", NULL, "CREDITD_OPENAI_API_KEY", NULL},
	{"gateway", "anthropic_api_key", CFG_SECRET, OFF(gw_anthropic_api_key), 0, 0, "", NULL, "CREDITD_ANTHROPIC_API_KEY", NULL},
	{"gateway", "openai_organization", CFG_STR, OFF(gw_openai_organization), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "openai_project", CFG_STR, OFF(gw_openai_project), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "shrink", CFG_ENUM, OFF(gw_shrink_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "byok", CFG_ENUM, OFF(gw_byok_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "provider_objects", CFG_ENUM, OFF(gw_provider_objects_text), 0, 0, "off", "on|off", NULL, NULL},
	{"gateway", "min_output_tokens", CFG_INT, OFF(gw_min_output_tokens), 1, LIMIT_TOKENS_MAX, "256", NULL, NULL, NULL},
	{"gateway", "on_client_gone", CFG_ENUM, OFF(gw_on_client_gone), 0, 0, "drain", "drain|cancel", NULL, NULL},
	{"gateway", "drain_seconds", CFG_INT, OFF(gw_drain_seconds), 0, 3600, "60", NULL, NULL, NULL},
	{"gateway", "max_body_bytes", CFG_INT, OFF(gw_max_body_bytes), 1024, LIMIT_GATEWAY_BODY_MAX_BYTES, "8388608", NULL, NULL, NULL},
	{"gateway", "max_streams", CFG_INT, OFF(gw_max_streams), 1, LIMIT_GATEWAY_STREAMS_MAX, "512", NULL, NULL, NULL},
	{"gateway", "max_buffered_mib", CFG_INT, OFF(gw_max_buffered_mib), 1, LIMIT_GATEWAY_BUFFERED_MIB_MAX, "256", NULL, NULL, NULL},
	{"gateway", "max_streams_per_key", CFG_INT, OFF(gw_max_streams_per_key), 1, LIMIT_GATEWAY_STREAMS_MAX, "16", NULL, NULL, NULL},
	{"gateway", "max_tool_calls_held", CFG_INT, OFF(gw_max_tool_calls_held), 0, LIMIT_GATEWAY_TOOL_CALLS_MAX, "5", NULL, NULL, NULL},
	{"gateway", "max_streams_per_account", CFG_INT, OFF(gw_max_streams_per_account), 1, LIMIT_GATEWAY_STREAMS_MAX, "64", NULL, NULL, NULL},
	{"gateway", "connect_timeout_ms", CFG_INT, OFF(gw_connect_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"gateway", "first_byte_timeout_seconds", CFG_INT, OFF(gw_first_byte_timeout_seconds), 1, 3600, "600", NULL, NULL, NULL},
	{"gateway", "idle_timeout_seconds", CFG_INT, OFF(gw_idle_timeout_seconds), 1, 3600, "300", NULL, NULL, NULL},
};
#define CFG_KEYS (sizeof(cfg_table) / sizeof(cfg_table[0]))

size_t config_describe(size_t i, struct cfg_doc *d)
{
	if (i < CFG_KEYS) {
		const struct cfg_key *k = &cfg_table[i];
		*d = (struct cfg_doc){k->section, k->key, k->def, k->choices, k->env, k->type == CFG_INT,
				      k->type == CFG_SECRET, k->min, k->max};
	}
	return CFG_KEYS;
}

static char **str_slot(struct cfg *c, const struct cfg_key *k)
{
	return (char **)((char *)c + k->offset);
}

static int64_t *int_slot(struct cfg *c, const struct cfg_key *k)
{
	return (int64_t *)((char *)c + k->offset);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	if (*s == '\0')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Sets one key from text; `where` names the source for the message. */
static int set_value(struct cfg *c, const struct cfg_key *k, const char *v, const char *where,
		     char *err, size_t errcap)
{
	if (k->type == CFG_INT) {
		int64_t n;
		if (parse_int(v, &n) != 0 || n < k->min || n > k->max)
			return fail(err, errcap, "%s: %s.%s must be an integer from %lld to %lld",
				    where, k->section, k->key, (long long)k->min, (long long)k->max);
		*int_slot(c, k) = n;
		return 0;
	}
	if (k->type == CFG_ENUM && !jsonio_choice(k->choices, v))
		return fail(err, errcap, "%s: %s.%s must be one of %s", where, k->section, k->key, k->choices);
	const char *why = k->valid != NULL ? k->valid(v) : NULL;
	if (why != NULL)
		return fail(err, errcap, "%s: %s.%s %s", where, k->section, k->key, why);
	char *dup = strdup(v);
	if (dup == NULL)
		return fail(err, errcap, "out of memory");
	free(*str_slot(c, k));
	*str_slot(c, k) = dup;
	return 0;
}

static const struct cfg_key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < CFG_KEYS; i++) {
		const struct cfg_key *k = &cfg_table[i];
		if (strcmp(k->key, key) != 0)
			continue;
		if (section[0] == '\0' || strcmp(k->section, section) == 0)
			return k;
	}
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Strips one pair of matching quotes, so values may be written "a b". */
static char *unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static int parse_line(struct cfg *c, char *line, int lineno, char *section, size_t seccap,
		      const char *name, char *err, size_t errcap)
{
	char *s = trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL || close[1] != '\0')
			return fail(err, errcap, "%s:%d: malformed section header", name, lineno);
		*close = '\0';
		s = trim(s + 1);
		/* A section is known when a key of the table is in it. */
		size_t k = 0;
		while (k < CFG_KEYS && strcmp(cfg_table[k].section, s) != 0)
			k++;
		if (k == CFG_KEYS)
			return fail(err, errcap, "%s:%d: unknown section [%s]", name, lineno, s);
		snprintf(section, seccap, "%s", s);
		return 0;
	}
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return fail(err, errcap, "%s:%d: expected key = value", name, lineno);
	*eq = '\0';
	char *key = trim(s);
	char *val = unquote(trim(eq + 1));
	const struct cfg_key *k = find_key(section, key);
	if (k == NULL)
		return fail(err, errcap, "%s:%d: unknown key '%s'%s%s%s", name, lineno, key,
			    section[0] ? " in [" : "", section, section[0] ? "]" : "");
	char where[600];
	snprintf(where, sizeof(where), "%s:%d", name, lineno);
	return set_value(c, k, val, where, err, errcap);
}

static int parse_text(struct cfg *c, char *text, const char *name, char *err, size_t errcap)
{
	char section[32] = "";
	int lineno = 0;
	char *p = text;
	while (*p != '\0') {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		if (strlen(p) >= LIMIT_CONFIG_LINE_BYTES)
			return fail(err, errcap, "%s:%d: line too long", name, lineno);
		if (parse_line(c, p, lineno, section, sizeof(section), name, err, errcap) != 0)
			return -1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

static int apply_defaults(struct cfg *c, char *err, size_t errcap)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CFG_KEYS; i++)
		if (set_value(c, &cfg_table[i], cfg_table[i].def, "default", err, errcap) != 0)
			return -1;
	return 0;
}

static int apply_env(struct cfg *c, char *err, size_t errcap)
{
	for (size_t i = 0; i < CFG_KEYS; i++) {
		const struct cfg_key *k = &cfg_table[i];
		const char *v = k->env != NULL ? getenv(k->env) : NULL;
		if (v == NULL)
			continue;
		if (set_value(c, k, v, k->env, err, errcap) != 0)
			return -1;
	}
	return 0;
}

static int split_secrets(struct cfg *c, char *err, size_t errcap)
{
	const char *p = c->stripe_webhook_secrets;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0) {
			if (c->webhook_secret_count == LIMIT_WEBHOOK_SECRETS)
				return fail(err, errcap, "stripe.webhook_secrets: more than %d secrets",
					    LIMIT_WEBHOOK_SECRETS);
			char *secret = strndup(p, len);
			if (secret == NULL)
				return fail(err, errcap, "stripe.webhook_secrets: out of memory");
			c->webhook_secrets[c->webhook_secret_count++] = secret;
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

static int valid_currency(const char *s)
{
	if (strcmp(s, "credits") == 0)
		return 1;
	if (strlen(s) != 3)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* One "host:port" of database.nodes ("[::1]:3306" for IPv6). */
static int parse_node(const char *item, size_t len, struct cfg_node *n)
{
	const char *colon = NULL;
	if (len == 0 || len >= sizeof(n->name))
		return -1;
	memcpy(n->name, item, len);
	n->name[len] = '\0';
	for (size_t i = len; i-- > 0;)
		if (item[i] == ':') {
			colon = item + i;
			break;
		}
	if (colon == NULL || colon == item || colon[1] == '\0')
		return -1;
	const char *host = item, *host_end = colon;
	if (item[0] == '[') {
		if (colon[-1] != ']' || colon - item < 3)
			return -1;
		host = item + 1;
		host_end = colon - 1;
	}
	for (const char *p = host; p < host_end; p++)
		if (isspace((unsigned char)*p) || *p == '[' || *p == ']' || (*p == ':' && item[0] != '['))
			return -1;
	long port = 0;
	for (const char *p = colon + 1; p < item + len; p++) {
		if (!isdigit((unsigned char)*p) || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	memcpy(n->host, host, (size_t)(host_end - host));
	n->host[host_end - host] = '\0';
	n->port = (int)port;
	return 0;
}

static int split_nodes(struct cfg *c, char *err, size_t errcap)
{
	c->db_node_count = 0;
	if (c->db_nodes[0] == '\0') {
		struct cfg_node *n = &c->db_node[0];
		n->port = (int)c->db_port;
		if (snprintf(n->host, sizeof(n->host), "%s", c->db_host) >= (int)sizeof(n->host) ||
		    snprintf(n->name, sizeof(n->name), "%s:%d", c->db_host, n->port) >= (int)sizeof(n->name))
			return fail(err, errcap, "database.host is longer than %d bytes", LIMIT_DB_NODE_BYTES - 8);
		c->db_node_count = 1;
		return 0;
	}
	const char *p = c->db_nodes;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;		/* "a:1, b:2, ": the last comma ends the list */
		size_t len = strcspn(p, ",");
		size_t trimmed = len;
		while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
			trimmed--;
		if (c->db_node_count == LIMIT_DB_NODES)
			return fail(err, errcap, "database.nodes names more than %d nodes", LIMIT_DB_NODES);
		if (parse_node(p, trimmed, &c->db_node[c->db_node_count]) != 0)
			return fail(err, errcap, "database.nodes: '%.*s' is not host:port", (int)trimmed, p);
		for (int i = 0; i < c->db_node_count; i++)
			if (strcmp(c->db_node[i].name, c->db_node[c->db_node_count].name) == 0)
				return fail(err, errcap, "database.nodes names %s twice", c->db_node[i].name);
		c->db_node_count++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (c->db_node_count == 0)
		return fail(err, errcap, "database.nodes: no node named");
	return 0;
}

/* The deployment's salt of every Idempotency-Key sent to Stripe (DESIGN
 * §13): stripe.key_salt as set, else the first LIMIT_KEY_SALT_DERIVED_HEX hex
 * digits of SHA-256 over the first webhook secret (each Stripe webhook
 * endpoint, so each deployment, has its own), else over the secret key.
 * Never from the database: a copy of it must not carry production's keys.
 * 0, or -1 when the configured salt is not of the allowed form. */
static int key_salt(struct cfg *c)
{
	const char *set = c->stripe_key_salt_text, *from = c->webhook_secret_count > 0 ? c->webhook_secrets[0]
							   : c->stripe_secret_key;
	size_t n = strlen(set);
	if (n > 0) {
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)set[i]) && set[i] != '_')
				return -1;
		if (n > LIMIT_KEY_SALT_BYTES)
			return -1;
		snprintf(c->stripe_key_salt, sizeof(c->stripe_key_salt), "%s", set);
		return 0;
	}
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	struct keys_part parts[] = {{"creditd stripe key salt\n", 24}, {from, strlen(from)}};
	keys_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), hash);
	keys_hex(hash, hex);
	snprintf(c->stripe_key_salt, sizeof(c->stripe_key_salt), "%.*s", LIMIT_KEY_SALT_DERIVED_HEX, hex);
	return 0;
}

/* Every URL creditd sends secrets or money to is https, or http to a
 * loopback address (a stand-in on the same host): refused here, at start
 * and by --check-config, not at the first top-up or event. */
static int urls_ok(const struct cfg *c, char *err, size_t errcap)
{
	const struct {
		const char *url, *key;
	} u[] = {{c->gw_openai_base_url, "gateway.openai_base_url"}, {c->gw_anthropic_base_url, "gateway.anthropic_base_url"},
		 {c->stripe_api_base, "stripe.api_base"}, {c->notify_url, "notify.url"}};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (u[i].url[0] != '\0' && !urlpath_https_or_loopback(u[i].url))
			return fail(err, errcap, "%s must be https:// (http:// only to 127.0.0.1, [::1] or localhost): %s",
				    u[i].key, u[i].url);
	return 0;
}

static int finish(struct cfg *c, char *err, size_t errcap)
{
	char *end;
	long mode = strtol(c->socket_mode, &end, 8);
	if (*end != '\0' || c->socket_mode[0] == '\0' || mode < 0 || mode > 0777)
		return fail(err, errcap, "server.socket_mode must be an octal mode such as 0660");
	size_t n = strlen(c->base_path);
	if (n == 0 || c->base_path[0] != '/')
		return fail(err, errcap, "server.base_path must start with '/'");
	while (n > 1 && c->base_path[n - 1] == '/')
		c->base_path[--n] = '\0';
	if (!valid_currency(c->currency))
		return fail(err, errcap, "ledger.currency must be a 3-letter upper-case ISO code or 'credits'");
	if (c->stripe_currency[0] == '\0' && strcmp(c->currency, "credits") != 0) {
		free(c->stripe_currency);
		c->stripe_currency = strdup(c->currency);
		if (c->stripe_currency == NULL)
			return fail(err, errcap, "stripe.currency: out of memory");
		for (char *p = c->stripe_currency; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	if (c->topup_min_cents > c->topup_max_cents)
		return fail(err, errcap, "stripe.topup_min_cents is above stripe.topup_max_cents");
	/* DESIGN §10: the largest top-up, at the rate, is one grant. */
	if ((__int128)c->topup_max_cents * c->topup_rate > LIMIT_AMOUNT_MICROS_MAX)
		return fail(err, errcap, "stripe.topup_max_cents (%lld) times stripe.topup_rate (%lld) is above %lld "
			    "micros, the largest single grant", (long long)c->topup_max_cents, (long long)c->topup_rate,
			    (long long)LIMIT_AMOUNT_MICROS_MAX);
	c->capture_expired = strcmp(c->expired_holds, "capture") == 0;
	c->suspend_on_dispute = strcmp(c->suspend_on_dispute_text, "true") == 0;
	c->suspend_when_unpaid = strcmp(c->suspend_when_unpaid_text, "true") == 0;
	c->invoice_topups = strcmp(c->invoice_topups_text, "true") == 0;
	c->gw_shrink = strcmp(c->gw_shrink_text, "on") == 0;
	c->gw_byok = strcmp(c->gw_byok_text, "on") == 0;
	c->gw_provider_objects = strcmp(c->gw_provider_objects_text, "on") == 0;
	if (urls_ok(c, err, errcap) != 0)
		return -1;
	c->gw_drain = strcmp(c->gw_on_client_gone, "drain") == 0;
	if (c->retention_stripe_events_days > 0 && c->retention_stripe_events_days < LIMIT_STRIPE_EVENTS_MIN_DAYS)
		return fail(err, errcap, "retention.stripe_events_days must be 0 (never purge) or at least %d: Stripe "
			    "may deliver an event again for %d days", LIMIT_STRIPE_EVENTS_MIN_DAYS,
			    LIMIT_STRIPE_EVENTS_MIN_DAYS);
	/* An authorize replayed from its Idempotency-Key names its hold: a
	 * finished hold is kept at least as long as its key, and a margin
	 * more (LIMIT_HOLD_AFTER_KEY_SECONDS), whatever holds_days says. */
	c->retention_holds_seconds = -1;
	if (c->retention_holds_days > 0) {
		int64_t by_days = c->retention_holds_days * TIMEFMT_SECONDS_PER_DAY;
		int64_t by_key = c->idempotency_ttl_hours * 3600 + LIMIT_HOLD_AFTER_KEY_SECONDS;
		c->retention_holds_seconds = by_days > by_key ? by_days : by_key;
	}
	if (c->notify_url[0] != '\0' && c->notify_secret[0] == '\0')
		return fail(err, errcap, "notify.url is set without notify.secret (events are always signed)");
	if (split_nodes(c, err, errcap) != 0 || split_secrets(c, err, errcap) != 0)
		return -1;
	if (key_salt(c) != 0)
		return fail(err, errcap, "stripe.key_salt must be 1 to %d letters, digits or '_'", LIMIT_KEY_SALT_BYTES);
	return 0;
}

int config_load_string(const char *text, struct cfg *c, char *err, size_t errcap)
{
	if (apply_defaults(c, err, errcap) != 0)
		return -1;
	char *copy = strdup(text);
	if (copy == NULL)
		return fail(err, errcap, "out of memory");
	int rc = parse_text(c, copy, "config", err, errcap);
	free(copy);
	return rc != 0 ? rc : finish(c, err, errcap);
}

/* Reads a whole file of at most cap bytes; *mode is its type and
 * permissions (st_mode), taken from the open file (not the path, which may
 * change meanwhile). */
static char *read_file(const char *path, size_t cap, unsigned *mode, char *err, size_t errcap, int *missing)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	struct stat st;
	*missing = 0;
	if (f == NULL) {
		*missing = errno == ENOENT;
		fail(err, errcap, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0) {
		fail(err, errcap, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	*mode = (unsigned)st.st_mode;
	buf = malloc(cap + 1);
	if (buf == NULL)
		goto out;
	size_t n = fread(buf, 1, cap, f);
	if (!feof(f)) {
		fail(err, errcap, "%s is larger than %zu bytes", path, cap);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
out:
	fclose(f);
	return buf;
}

/* The first secret key a loaded file set, or NULL: a file holding one
 * must not be readable by others (DESIGN §10). Run before the
 * environment is applied, so a secret from there does not count. */
static const struct cfg_key *secret_set(struct cfg *c)
{
	for (size_t i = 0; i < CFG_KEYS; i++)
		if (cfg_table[i].type == CFG_SECRET && (*str_slot(c, &cfg_table[i]))[0] != '\0')
			return &cfg_table[i];
	return NULL;
}

/* Who may change and read the file. No config may be written by others:
 * whoever writes it picks the database, the Stripe endpoint and the log
 * creditd uses, and may add a key the environment's secrets then serve.
 * One that sets secret k (DESIGN §10, §13) is not writable by its group
 * either (on a shared host the group may be every customer's), and not
 * readable by others, unless the file itself says
 * [security] config_readable_by_others = true (shared hosting without
 * suEXEC, where Apache's user runs creditd and the site's user owns the
 * file: docs/shared-hosting.md), which c->config_open_to_others records.
 * Read access given to one user by an ACL shows in the group's bits (the
 * ACL mask), so it passes as 0640 does. k NULL: the file sets no secret.
 * What may be written counts, but for a character device: a write to
 * /dev/null (a config of the environment alone) changes nothing a read will
 * see, where one to a FIFO is the config read. */
static int private_enough(struct cfg *c, const char *path, const struct cfg_key *k, unsigned st_mode, char *err,
			  size_t errcap)
{
	int allowed = strcmp(c->config_readable_by_others_text, "true") == 0;
	unsigned mode = st_mode & 07777, writes = S_ISCHR(st_mode) ? mode & ~0022u : mode;
	if ((writes & 0002) != 0)
		return fail(err, errcap, "config %s is writable by others (mode %04o): chmod o-w it", path, mode);
	if (k == NULL)
		return 0;
	if ((writes & 0020) != 0)
		return fail(err, errcap, "config %s holds secrets (%s.%s) and is writable by its group (mode %04o): "
			    "chmod g-w it", path, k->section, k->key, mode);
	if ((mode & 0004) != 0 && !allowed)
		return fail(err, errcap, "config %s holds secrets (%s.%s) and is readable by others (mode %04o): "
			    "chmod o-r it (0600, or 0640 with the daemon's group); shared hosting without suEXEC: "
			    "see security.config_readable_by_others", path, k->section, k->key, mode);
	c->config_open_to_others = (mode & 0004) != 0;
	return 0;
}

const char *config_path(const char *path)
{
	if (path == NULL)
		path = getenv("CREDITD_CONFIG");
	return path != NULL ? path : CFG_DEFAULT_PATH;
}

int config_load(const char *path, struct cfg *c, char *err, size_t errcap)
{
	int explicit_path = path != NULL || getenv("CREDITD_CONFIG") != NULL;
	path = config_path(path);
	if (apply_defaults(c, err, errcap) != 0)
		return -1;
	int missing;
	unsigned mode = 0;
	char *text = read_file(path, LIMIT_CONFIG_FILE_BYTES, &mode, err, errcap, &missing);
	if (text == NULL && (explicit_path || !missing))
		return -1;
	if (text != NULL) {
		c->file_read = 1;
		int rc = parse_text(c, text, path, err, errcap);
		free(text);
		if (rc != 0)
			return rc;
		if (private_enough(c, path, secret_set(c), mode, err, errcap) != 0)
			return -1;
	}
	if (apply_env(c, err, errcap) != 0)
		return -1;
	return finish(c, err, errcap);
}

static int set_str(char **slot, const char *v, char *err, size_t errcap)
{
	char *dup = strdup(v);
	if (dup == NULL)
		return fail(err, errcap, "out of memory");
	free(*slot);
	*slot = dup;
	return 0;
}

int config_use_migrate_user(struct cfg *c, const char *user, const char *password_file, char *err, size_t errcap)
{
	if (user == NULL && c->db_migrate_user[0] != '\0')
		user = c->db_migrate_user;
	if (user == NULL && password_file == NULL)
		return 0;		/* the runtime user migrates, as before */
	if (user != NULL && set_str(&c->db_user, user, err, errcap) != 0)
		return -1;
	if (password_file == NULL)
		return set_str(&c->db_password, c->db_migrate_password, err, errcap);
	int missing;
	unsigned mode = 0;
	char *text = read_file(password_file, LIMIT_PASSWORD_FILE_BYTES, &mode, err, errcap, &missing);
	if (text == NULL)
		return -1;
	if ((mode & 0004) != 0) {
		free(text);
		return fail(err, errcap, "password file %s is readable by others (mode %04o): chmod o-r it",
			    password_file, mode & 07777);
	}
	text[strcspn(text, "\r\n")] = '\0';
	free(c->db_password);
	c->db_password = text;
	return 0;
}

void config_free(struct cfg *c)
{
	for (size_t i = 0; i < CFG_KEYS; i++) {
		const struct cfg_key *k = &cfg_table[i];
		if (k->type != CFG_INT) {
			free(*str_slot(c, k));
			*str_slot(c, k) = NULL;
		}
	}
	for (int i = 0; i < c->webhook_secret_count; i++)
		free(c->webhook_secrets[i]);
	c->webhook_secret_count = 0;
}

/* Writes the origin of url (scheme://authority) into out; 0 or -1. */
static int origin_of(const char *url, char *out, size_t cap)
{
	const char *sep = strstr(url, "://");
	if (sep == NULL || sep == url)
		return -1;
	const char *end = sep + 3;
	while (*end != '\0' && *end != '/' && *end != '?' && *end != '#')
		end++;
	size_t n = (size_t)(end - url);
	if (n == (size_t)(sep + 3 - url) || n >= cap)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

static int origin_listed(const char *list, const char *origin)
{
	size_t n = strlen(origin);
	const char *p = list;
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end != '\0' && *end != ',' && *end != ' ')
			end++;
		size_t len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == n && strncasecmp(p, origin, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

int64_t config_low_threshold(const struct cfg *c, int64_t own)
{
	return own >= 0 ? own : c->low_balance_default_micros;
}

int config_widget_origin_allowed(const struct cfg *c, const char *origin)
{
	return origin != NULL && origin[0] != '\0' && strlen(origin) < LIMIT_URL_BYTES &&
	       origin_listed(c->widget_origins, origin);
}

int config_redirect_allowed(const struct cfg *c, const char *url)
{
	char origin[LIMIT_URL_BYTES], other[LIMIT_URL_BYTES];
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return 0;
	if (origin_of(url, origin, sizeof(origin)) != 0)
		return 0;
	if (origin_listed(c->allowed_redirect_origins, origin))
		return 1;
	if (origin_of(c->success_url, other, sizeof(other)) == 0 && strcasecmp(other, origin) == 0)
		return 1;
	return origin_of(c->cancel_url, other, sizeof(other)) == 0 && strcasecmp(other, origin) == 0;
}
