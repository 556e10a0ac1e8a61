/* config.c: the table-driven config loader. Every key creditd knows is one
 * row of a table: core's, cfg_table below, or a module's beside its code
 * (config.h's config_slot names them); nothing else parses
 * configuration. Values are checked here, at start-up, by the tables'
 * ranges and choices and by the modules' finishes, so the rest of the
 * code can trust struct cfg and the modules' blocks. The helpers every
 * table's module shares are config_check.c's, the file read and its
 * mode judged config_file.c's, [database] nodes config_nodes.c's. */
#include "config.h"
#include "config_file.h"
#include "config_nodes.h"
#include "jsonio.h"
#include "urlpath.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OFF(f) offsetof(struct cfg, f)
#define I64MAX INT64_MAX

static const struct config_key cfg_table[] = {
	{"server", "listen", CONFIG_STR, OFF(listen), 0, 0, "", NULL, "CREDITD_LISTEN", NULL},
	{"server", "socket_mode", CONFIG_STR, OFF(socket_mode), 0, 0, "0660", NULL, NULL, NULL},
	{"server", "threads", CONFIG_INT, OFF(threads), 1, LIMIT_THREADS_MAX, "64", NULL, "CREDITD_THREADS", NULL},
	{"server", "base_path", CONFIG_STR, OFF(base_path), 0, 0, "/", NULL, "CREDITD_BASE_PATH", NULL},
	{"server", "max_body_bytes", CONFIG_INT, OFF(max_body_bytes), 1024, LIMIT_BODY_MAX_BYTES, "65536", NULL, NULL, NULL},
	{"server", "log", CONFIG_STR, OFF(log), 0, 0, "stderr", NULL, "CREDITD_LOG", NULL},
	{"server", "log_level", CONFIG_ENUM, OFF(log_level), 0, 0, "info", "error|warn|info|debug", NULL, NULL},
	{"server", "log_format", CONFIG_ENUM, OFF(log_format), 0, 0, "text", "text|json", "CREDITD_LOG_FORMAT", NULL},
	{"server", "sweep_interval_seconds", CONFIG_INT, OFF(sweep_interval_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "host", CONFIG_STR, OFF(db_host), 0, 0, "localhost", NULL, "CREDITD_DB_HOST", NULL},
	{"database", "port", CONFIG_INT, OFF(db_port), 0, 65535, "3306", NULL, "CREDITD_DB_PORT", NULL},
	{"database", "socket", CONFIG_STR, OFF(db_socket), 0, 0, "", NULL, "CREDITD_DB_SOCKET", NULL},
	{"database", "nodes", CONFIG_STR, OFF(db_nodes), 0, 0, "", NULL, "CREDITD_DB_NODES", NULL},
	{"database", "name", CONFIG_STR, OFF(db_name), 0, 0, "creditd", NULL, "CREDITD_DB_NAME", NULL},
	{"database", "user", CONFIG_STR, OFF(db_user), 0, 0, "creditd", NULL, "CREDITD_DB_USER", NULL},
	{"database", "password", CONFIG_SECRET, OFF(db_password), 0, 0, "", NULL, "CREDITD_DB_PASSWORD", NULL},
	{"database", "migrate_user", CONFIG_STR, OFF(db_migrate_user), 0, 0, "", NULL, "CREDITD_DB_MIGRATE_USER", NULL},
	{"database", "migrate_password", CONFIG_SECRET, OFF(db_migrate_password), 0, 0, "", NULL, "CREDITD_DB_MIGRATE_PASSWORD", NULL},
	{"database", "connect_timeout_seconds", CONFIG_INT, OFF(db_connect_timeout_seconds), 1, 60, "2", NULL, NULL, NULL},
	{"database", "read_timeout_seconds", CONFIG_INT, OFF(db_read_timeout_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "write_timeout_seconds", CONFIG_INT, OFF(db_write_timeout_seconds), 1, 3600, "5", NULL, NULL, NULL},
	{"database", "health_timeout_seconds", CONFIG_INT, OFF(db_health_timeout_seconds), 1, 60, "1", NULL, NULL, NULL},
	/* "": by host (config_tls.c); off|required|verify. */
	{"database", "tls", CONFIG_STR, OFF(db_tls_text), 0, 0, "", NULL, "CREDITD_DB_TLS", config_tls_valid},
	{"database", "ca_file", CONFIG_STR, OFF(db_ca_file), 0, 0, "", NULL, "CREDITD_DB_CA_FILE", NULL},
	{"database", "cert_file", CONFIG_STR, OFF(db_cert_file), 0, 0, "", NULL, "CREDITD_DB_CERT_FILE", NULL},
	{"database", "key_file", CONFIG_STR, OFF(db_key_file), 0, 0, "", NULL, "CREDITD_DB_KEY_FILE", NULL},
	{"ledger", "currency", CONFIG_STR, OFF(currency), 0, 0, "EUR", NULL, NULL, NULL},
	{"ledger", "signup_bonus_micros", CONFIG_INT, OFF(signup_bonus_micros), 0, I64MAX / 4, "0", NULL, NULL, NULL},
	{"ledger", "expired_holds", CONFIG_ENUM, OFF(expired_holds), 0, 0, "release", "release|capture", NULL, NULL},
	{"ledger", "hold_ttl_seconds", CONFIG_INT, OFF(hold_ttl_seconds), 1, LIMIT_HOLD_TTL_MAX_SECONDS, "600", NULL, NULL, NULL},
	{"ledger", "idempotency_ttl_hours", CONFIG_INT, OFF(idempotency_ttl_hours), 24, 24 * 365, "24", NULL, NULL, NULL},
	/* 0 never throttles. */
	{"security", "auth_failures_per_minute", CONFIG_INT, OFF(auth_failures_per_minute), 0, LIMIT_AUTH_FAILURES_MAX, "30", NULL, NULL, NULL},
	/* No environment variable: it judges the file, so only the file says it. */
	{"security", "config_readable_by_others", CONFIG_ENUM, OFF(config_readable_by_others_text), 0, 0, "false", "true|false", NULL, NULL},
};
#define CFG_KEYS (sizeof(cfg_table) / sizeof(cfg_table[0]))

/* Key i of every table: core's first, then each module's by slot; NULL
 * past the last. *slot is CONFIG_MODULES for core's, else the module's. */
static const struct config_key *key_at(const struct config_module *const *modules, size_t i, size_t *slot)
{
	*slot = CONFIG_MODULES;
	if (i < CFG_KEYS)
		return &cfg_table[i];
	i -= CFG_KEYS;
	for (size_t m = 0; m < CONFIG_MODULES; m++) {
		if (i < modules[m]->nkeys) {
			*slot = m;
			return &modules[m]->keys[i];
		}
		i -= modules[m]->nkeys;
	}
	return NULL;
}

/* Key i of the modules' named sections' tables (described under their
 * doc_section), NULL past the last; *named its table. */
static const struct config_key *named_key_at(const struct config_module *const *modules, size_t i,
					     const struct config_named **named)
{
	for (size_t m = 0; m < CONFIG_MODULES; m++) {
		const struct config_named *t = modules[m]->named;
		if (t == NULL)
			continue;
		if (i < t->nkeys) {
			*named = t;
			return &t->keys[i];
		}
		i -= t->nkeys;
	}
	return NULL;
}

size_t config_describe(const struct config_module *const modules[CONFIG_MODULES], size_t i, struct cfg_doc *d)
{
	size_t n = CFG_KEYS, slot, plain;
	const struct config_named *t = NULL;
	for (size_t m = 0; m < CONFIG_MODULES; m++)
		n += modules[m]->nkeys;
	plain = n;
	for (size_t m = 0; m < CONFIG_MODULES; m++)
		n += modules[m]->named != NULL ? modules[m]->named->nkeys : 0;
	const struct config_key *k = i < plain ? key_at(modules, i, &slot) : named_key_at(modules, i - plain, &t);
	if (k != NULL)
		*d = (struct cfg_doc){t != NULL ? t->doc_section : k->section, k->key, k->def, k->choices, k->env,
				      k->type == CONFIG_INT, k->type == CONFIG_SECRET || k->type == CONFIG_SECRET_LINES,
				      k->min, k->max};
	return n;
}

/* The struct a key of slot writes in: struct cfg for core's, else the
 * module's block. */
static void *base_of(struct cfg *c, size_t slot)
{
	return slot == CONFIG_MODULES ? (void *)c : c->module[slot];
}

static char **str_slot(void *base, const struct config_key *k)
{
	return (char **)((char *)base + k->offset);
}

static int64_t *int_slot(void *base, const struct config_key *k)
{
	return (int64_t *)((char *)base + k->offset);
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

/* Sets one key, in base (base_of), from text; `where` names the source
 * for the message. */
static int set_value(void *base, const struct config_key *k, const char *v, const char *where, char *err,
		     size_t errcap)
{
	if (k->type == CONFIG_INT) {
		int64_t n;
		if (parse_int(v, &n) != 0 || n < k->min || n > k->max)
			return config_fail(err, errcap, "%s: %s.%s must be an integer from %lld to %lld",
					   where, k->section, k->key, (long long)k->min, (long long)k->max);
		*int_slot(base, k) = n;
		return 0;
	}
	if (k->type == CONFIG_ENUM && !jsonio_choice(k->choices, v))
		return config_fail(err, errcap, "%s: %s.%s must be one of %s", where, k->section, k->key, k->choices);
	const char *why = k->valid != NULL ? k->valid(v) : NULL;
	if (why != NULL)
		return config_fail(err, errcap, "%s: %s.%s %s", where, k->section, k->key, why);
	if (k->type == CONFIG_SECRET_LINES && *str_slot(base, k) != NULL && (*str_slot(base, k))[0] != '\0' && v[0] != '\0') {
		/* One more line (a default is "" or one line). */
		size_t had = strlen(*str_slot(base, k)), n = strlen(v);
		char *more = realloc(*str_slot(base, k), had + n + 2);
		if (more == NULL)
			return config_fail(err, errcap, "out of memory");
		memcpy(more + had, v, n);
		memcpy(more + had + n, "\n", 2);
		*str_slot(base, k) = more;
		return 0;
	}
	char *dup = k->type == CONFIG_SECRET_LINES && v[0] != '\0' ? malloc(strlen(v) + 2) : strdup(v);
	if (dup != NULL && k->type == CONFIG_SECRET_LINES && v[0] != '\0')
		snprintf(dup, strlen(v) + 2, "%s\n", v);
	if (dup == NULL)
		return config_fail(err, errcap, "out of memory");
	free(*str_slot(base, k));
	*str_slot(base, k) = dup;
	return 0;
}

/* The named section open (the last one opened when the header was a
 * named one), or NULL. */
static struct config_section *named_open(struct cfg *c, const char *section)
{
	if (c->nnamed == 0 || strchr(section, ' ') == NULL)
		return NULL;
	for (size_t i = 0; i < c->nnamed; i++) {
		const struct config_named *t = c->modules[c->named[i].slot]->named;
		size_t w = strlen(t->word);
		if (strncmp(section, t->word, w) == 0 && section[w] == ' ' && strcmp(section + w + 1, c->named[i].name) == 0)
			return &c->named[i];
	}
	return NULL;
}

/* The key of that name in section ("" before any section header: the
 * first of that name in the tables' order), and its slot. */
static const struct config_key *find_key(const struct cfg *c, const char *section, const char *key, size_t *slot)
{
	const struct config_key *k;
	struct config_section *open = named_open((struct cfg *)c, section);
	if (open != NULL) {
		const struct config_named *t = c->modules[open->slot]->named;
		*slot = open->slot;
		for (size_t i = 0; i < t->nkeys; i++)
			if (strcmp(t->keys[i].key, key) == 0)
				return &t->keys[i];
		return NULL;
	}
	for (size_t i = 0; (k = key_at(c->modules, i, slot)) != NULL; i++) {
		if (strcmp(k->key, key) != 0)
			continue;
		if (section[0] == '\0' || strcmp(k->section, section) == 0)
			return k;
	}
	return NULL;
}

/* 1 when a key of some table is in section. */
static int known_section(const struct cfg *c, const char *section)
{
	const struct config_key *k;
	size_t slot;
	for (size_t i = 0; (k = key_at(c->modules, i, &slot)) != NULL; i++)
		if (strcmp(k->section, section) == 0)
			return 1;
	return 0;
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

static int set_defaults(void *base, const struct config_key *keys, size_t n, char *err, size_t errcap);

/* "[WORD NAME]": a named section of the module whose word is WORD,
 * opened (its keys' defaults set) or opened again. */
static int named_section(struct cfg *c, char *s, int lineno, char *section, size_t seccap, const char *file,
			 char *err, size_t errcap)
{
	char *sp = strchr(s, ' ');
	*sp = '\0';
	const char *nm = trim(sp + 1);
	size_t m = 0;
	while (m < CONFIG_MODULES && (c->modules[m]->named == NULL || strcmp(c->modules[m]->named->word, s) != 0))
		m++;
	if (m == CONFIG_MODULES)
		return config_fail(err, errcap, "%s:%d: unknown section [%s %s]", file, lineno, s, nm);
	const struct config_named *t = c->modules[m]->named;
	size_t len = strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	const char *why = len == 0 || nm[len] != '\0' || len >= LIMIT_CONFIG_NAME_BYTES
		? "must be 1 to 32 of a-z, 0-9, '_' and '-'" : t->name_valid != NULL ? t->name_valid(nm) : NULL;
	if (why != NULL)
		return config_fail(err, errcap, "%s:%d: the name of [%s %s] %s", file, lineno, s, nm, why);
	snprintf(section, seccap, "%s %s", s, nm);
	if (named_open(c, section) != NULL)
		return 0;
	if (c->nnamed == LIMIT_CONFIG_NAMED)
		return config_fail(err, errcap, "%s:%d: more than %d named sections", file, lineno, LIMIT_CONFIG_NAMED);
	struct config_section *n = &c->named[c->nnamed];
	snprintf(n->name, sizeof(n->name), "%s", nm);
	n->slot = m;
	if ((n->block = calloc(1, t->size)) == NULL)
		return config_fail(err, errcap, "out of memory");
	c->nnamed++;
	return set_defaults(n->block, t->keys, t->nkeys, err, errcap);
}

const void *config_named_at(const struct cfg *c, size_t slot, size_t i, const char **name)
{
	for (size_t j = 0; j < c->nnamed; j++)
		if (c->named[j].slot == slot && i-- == 0) {
			*name = c->named[j].name;
			return c->named[j].block;
		}
	return NULL;
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
			return config_fail(err, errcap, "%s:%d: malformed section header", name, lineno);
		*close = '\0';
		s = trim(s + 1);
		if (strchr(s, ' ') != NULL)
			return named_section(c, s, lineno, section, seccap, name, err, errcap);
		/* A section is known when a key of a table is in it. */
		if (!known_section(c, s))
			return config_fail(err, errcap, "%s:%d: unknown section [%s]", name, lineno, s);
		snprintf(section, seccap, "%s", s);
		return 0;
	}
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return config_fail(err, errcap, "%s:%d: expected key = value", name, lineno);
	*eq = '\0';
	char *key = trim(s);
	char *val = unquote(trim(eq + 1));
	size_t slot;
	const struct config_key *k = find_key(c, section, key, &slot);
	if (k == NULL)
		return config_fail(err, errcap, "%s:%d: unknown key '%s'%s%s%s", name, lineno, key,
				   section[0] ? " in [" : "", section, section[0] ? "]" : "");
	char where[600];
	snprintf(where, sizeof(where), "%s:%d", name, lineno);
	struct config_section *open = named_open(c, section);
	return set_value(open != NULL ? open->block : base_of(c, slot), k, val, where, err, errcap);
}

static int parse_text(struct cfg *c, char *text, const char *name, char *err, size_t errcap)
{
	char section[32 + LIMIT_CONFIG_NAME_BYTES] = "";
	int lineno = 0;
	char *p = text;
	while (*p != '\0') {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		if (strlen(p) >= LIMIT_CONFIG_LINE_BYTES)
			return config_fail(err, errcap, "%s:%d: line too long", name, lineno);
		if (parse_line(c, p, lineno, section, sizeof(section), name, err, errcap) != 0)
			return -1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

/* Zeroes c, takes modules (every slot's descriptor, at its slot), gives
 * each its block, and sets every key's default. */
static int apply_defaults(struct cfg *c, const struct config_module *const *modules, char *err, size_t errcap)
{
	const struct config_key *k;
	size_t slot;
	memset(c, 0, sizeof(*c));
	for (size_t m = 0; m < CONFIG_MODULES; m++)
		if (modules[m] == NULL || modules[m]->slot != m)
			return config_fail(err, errcap, "config: the program's list of modules has no module %zu", m);
	c->modules = modules;
	for (size_t m = 0; m < CONFIG_MODULES; m++)
		if ((c->module[m] = calloc(1, modules[m]->size)) == NULL)
			return config_fail(err, errcap, "out of memory");
	for (size_t i = 0; (k = key_at(modules, i, &slot)) != NULL; i++)
		if (set_value(base_of(c, slot), k, k->def, "default", err, errcap) != 0)
			return -1;
	return 0;
}

static int set_defaults(void *base, const struct config_key *keys, size_t n, char *err, size_t errcap)
{
	for (size_t i = 0; i < n; i++)
		if (set_value(base, &keys[i], keys[i].def, "default", err, errcap) != 0)
			return -1;
	return 0;
}

static int apply_env(struct cfg *c, char *err, size_t errcap)
{
	const struct config_key *k;
	size_t slot;
	for (size_t i = 0; (k = key_at(c->modules, i, &slot)) != NULL; i++) {
		const char *v = k->env != NULL ? getenv(k->env) : NULL;
		if (v == NULL)
			continue;
		if (set_value(base_of(c, slot), k, v, k->env, err, errcap) != 0)
			return -1;
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

/* Core's checks and derived values, then each module's finish, by slot. */
static int finish(struct cfg *c, char *err, size_t errcap)
{
	char *end;
	long mode = strtol(c->socket_mode, &end, 8);
	if (*end != '\0' || c->socket_mode[0] == '\0' || mode < 0 || mode > 0777)
		return config_fail(err, errcap, "server.socket_mode must be an octal mode such as 0660");
	size_t n = strlen(c->base_path);
	if (n == 0 || c->base_path[0] != '/')
		return config_fail(err, errcap, "server.base_path must start with '/'");
	while (n > 1 && c->base_path[n - 1] == '/')
		c->base_path[--n] = '\0';
	if (!valid_currency(c->currency))
		return config_fail(err, errcap, "ledger.currency must be a 3-letter upper-case ISO code or 'credits'");
	c->capture_expired = strcmp(c->expired_holds, "capture") == 0;
	if (config_nodes_split(c, err, errcap) != 0 || config_tls_finish(c, err, errcap) != 0)
		return -1;
	for (size_t m = 0; m < CONFIG_MODULES; m++)
		if (c->modules[m]->finish != NULL && c->modules[m]->finish(c, c->module[m], err, errcap) != 0)
			return -1;
	return 0;
}

int config_load_string(const char *text, const struct config_module *const modules[CONFIG_MODULES], struct cfg *c,
		       char *err, size_t errcap)
{
	if (apply_defaults(c, modules, err, errcap) != 0)
		return -1;
	char *copy = strdup(text);
	if (copy == NULL)
		return config_fail(err, errcap, "out of memory");
	int rc = parse_text(c, copy, "config", err, errcap);
	free(copy);
	return rc != 0 ? rc : finish(c, err, errcap);
}

/* The first secret key a loaded file set, or NULL: a file holding one must
 * not be readable by others (docs/shared-hosting.md, "Why creditd asks
 * this of you"). Run before the environment is applied, so a secret from
 * there does not count. */
static const struct config_key *secret_set(struct cfg *c)
{
	const struct config_key *k;
	size_t slot;
	for (size_t i = 0; (k = key_at(c->modules, i, &slot)) != NULL; i++)
		if ((k->type == CONFIG_SECRET || k->type == CONFIG_SECRET_LINES) && (*str_slot(base_of(c, slot), k))[0] != '\0')
			return k;
	for (size_t j = 0; j < c->nnamed; j++) {
		const struct config_named *t = c->modules[c->named[j].slot]->named;
		for (size_t i = 0; i < t->nkeys; i++)
			if ((t->keys[i].type == CONFIG_SECRET || t->keys[i].type == CONFIG_SECRET_LINES) &&
			    (*str_slot(c->named[j].block, &t->keys[i]))[0] != '\0')
				return &t->keys[i];
	}
	return NULL;
}

const char *config_path(const char *path)
{
	if (path == NULL)
		path = getenv("CREDITD_CONFIG");
	return path != NULL ? path : CFG_DEFAULT_PATH;
}

int config_load(const char *path, const struct config_module *const modules[CONFIG_MODULES], struct cfg *c,
		char *err, size_t errcap)
{
	int explicit_path = path != NULL || getenv("CREDITD_CONFIG") != NULL;
	path = config_path(path);
	if (apply_defaults(c, modules, err, errcap) != 0)
		return -1;
	int missing;
	unsigned mode = 0;
	char *text = config_file_read(path, LIMIT_CONFIG_FILE_BYTES, &mode, err, errcap, &missing);
	if (text == NULL && (explicit_path || !missing))
		return -1;
	if (text != NULL) {
		c->file_read = 1;
		int rc = parse_text(c, text, path, err, errcap);
		free(text);
		if (rc != 0)
			return rc;
		if (config_file_private(c, path, secret_set(c), mode, err, errcap) != 0)
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
		return config_fail(err, errcap, "out of memory");
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
	char *text = config_file_read(password_file, LIMIT_PASSWORD_FILE_BYTES, &mode, err, errcap, &missing);
	if (text == NULL)
		return -1;
	if ((mode & 0004) != 0) {
		free(text);
		return config_fail(err, errcap, "password file %s is readable by others (mode %04o): chmod o-r it",
				   password_file, mode & 07777);
	}
	text[strcspn(text, "\r\n")] = '\0';
	free(c->db_password);
	c->db_password = text;
	return 0;
}

/* Also of a load that failed half-way (apply_defaults zeroed c first),
 * and again after a free. */
void config_free(struct cfg *c)
{
	const struct config_key *k;
	size_t slot;
	if (c->modules == NULL)
		return;
	for (size_t i = 0; (k = key_at(c->modules, i, &slot)) != NULL; i++) {
		void *base = base_of(c, slot);
		if (base != NULL && k->type != CONFIG_INT) {
			free(*str_slot(base, k));
			*str_slot(base, k) = NULL;
		}
	}
	for (size_t j = 0; j < c->nnamed; j++) {
		const struct config_named *t = c->modules[c->named[j].slot]->named;
		for (size_t i = 0; c->named[j].block != NULL && i < t->nkeys; i++)
			if (t->keys[i].type != CONFIG_INT)
				free(*str_slot(c->named[j].block, &t->keys[i]));
		free(c->named[j].block);
		c->named[j].block = NULL;
	}
	c->nnamed = 0;
	for (size_t m = 0; m < CONFIG_MODULES; m++) {
		if (c->module[m] != NULL && c->modules[m]->release != NULL)
			c->modules[m]->release(c->module[m]);
		free(c->module[m]);
		c->module[m] = NULL;
	}
}
