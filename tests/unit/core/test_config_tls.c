/* test_config_tls.c: [database] tls, ca_file, cert_file and key_file
 * (docs/configuration.md, "TLS to MariaDB"): the choices, the default by
 * host (verify unless every node is this machine), the files opened at
 * load with the key named when one cannot be, and a client key others may
 * read refused as a secret is. */
#include "config.h"
#include "tap.h"
#include "unit/core/config_modules.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/creditd-test-tls-XXXXXX";
static char ca[128], cert[128], key[128], conf[160];

static int load(const char *text, struct cfg *c, char *err, size_t cap)
{
	return config_load_string(text, test_modules, c, err, cap);
}

static void write_file(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs("-----BEGIN CERTIFICATE-----\n", f);
		fclose(f);
	}
	chmod(path, mode);
}

/* The mode config.tls resolves to for text; -1 when the load fails. */
static int mode_of(const char *text)
{
	struct cfg c;
	char err[512] = "";
	int rc = load(text, &c, err, sizeof(err)) == 0 ? (int)c.db_tls : -1;
	if (rc < 0)
		fprintf(stderr, "# %s\n", err);
	config_free(&c);
	return rc;
}

static void default_by_host(void)
{
	char text[512];
	is_int(mode_of(""), CFG_TLS_OFF, "localhost (the default host): off");
	is_int(mode_of("[database]\nhost = 127.0.0.1\n"), CFG_TLS_OFF, "127.0.0.1: off");
	is_int(mode_of("[database]\nhost = 127.8.9.10\n"), CFG_TLS_OFF, "127.0.0.0/8: off");
	is_int(mode_of("[database]\nhost = ::1\n"), CFG_TLS_OFF, "::1: off");
	is_int(mode_of("[database]\nhost = db.example.com\nsocket = /run/mysqld/mysqld.sock\n"), CFG_TLS_OFF,
	       "a unix socket (which wins over host): off");
	is_int(mode_of("[database]\nhost = db.example.com\n"), CFG_TLS_VERIFY, "a host name: verify");
	is_int(mode_of("[database]\nhost = 10.0.0.5\n"), CFG_TLS_VERIFY, "another address: verify");
	is_int(mode_of("[database]\nhost = 128.0.0.1\n"), CFG_TLS_VERIFY, "128.0.0.1 is not loopback: verify");
	is_int(mode_of("[database]\nhost = ::2\n"), CFG_TLS_VERIFY, "::2: verify");
	is_int(mode_of("[database]\nnodes = 127.0.0.1:3306,127.0.0.1:3307\n"), CFG_TLS_OFF, "loopback nodes: off");
	is_int(mode_of("[database]\nnodes = 127.0.0.1:3306,[::1]:3307,10.0.0.2:3306\n"), CFG_TLS_VERIFY,
	       "one node elsewhere: verify, for every node");
	is_int(mode_of("[database]\nhost = db.example.com\ntls = off\n"), CFG_TLS_OFF, "off said: off");
	is_int(mode_of("[database]\nhost = db.example.com\ntls = required\n"), CFG_TLS_REQUIRED, "required said");
	is_int(mode_of("[database]\ntls = verify\n"), CFG_TLS_VERIFY, "verify said, loopback or not");
	snprintf(text, sizeof(text), "[database]\nhost = 127.0.0.1\nca_file = %s\n", ca);
	is_int(mode_of(text), CFG_TLS_VERIFY, "a ca_file with no tls: verify, loopback or not");
	struct cfg c;
	char err[512] = "";
	ok(load("[database]\nnodes = 127.0.0.1:3306,10.0.0.2:3306\ntls = off\n", &c, err, sizeof(err)) == 0 &&
	   config_tls_remote(&c) != NULL && strcmp(config_tls_remote(&c), "10.0.0.2:3306") == 0,
	   "the remote node named (creditd's warning when it is not verified): %s", err);
	config_free(&c);
	ok(load("[database]\nhost = db\nsocket = /run/mysqld/mysqld.sock\n", &c, err, sizeof(err)) == 0 &&
	   config_tls_remote(&c) == NULL, "a socket is never remote: %s", err);
	config_free(&c);
	setenv("CREDITD_DB_TLS", "required", 1);
	setenv("CREDITD_DB_HOST", "db.example.com", 1);
	ok(config_load("/dev/null", test_modules, &c, err, sizeof(err)) == 0 && c.db_tls == CFG_TLS_REQUIRED,
	   "CREDITD_DB_TLS = required: %s", err);
	config_free(&c);
	unsetenv("CREDITD_DB_TLS");
	unsetenv("CREDITD_DB_HOST");
}

static void refused(const char *text, const char *want, const char *what)
{
	struct cfg c;
	char err[512] = "";
	ok(load(text, &c, err, sizeof(err)) != 0 && strstr(err, want) != NULL, "%s: %s", what, err);
	config_free(&c);
}

static void the_files(void)
{
	struct cfg c;
	char text[1024], err[512] = "";
	refused("[database]\ntls = on\n", "database.tls must be one of off|required|verify", "tls = on refused");
	refused("[database]\ntls = VERIFY\n", "database.tls", "the choices are lower case");
	snprintf(text, sizeof(text), "[database]\ntls = verify\nca_file = %s/none.pem\n", dir);
	refused(text, "database.ca_file", "a ca_file that does not exist, named");
	snprintf(text, sizeof(text), "[database]\ntls = verify\nca_file = %s\n", dir);
	refused(text, "not a regular file", "a directory as ca_file");
	snprintf(text, sizeof(text), "[database]\ntls = off\nca_file = %s\n", ca);
	refused(text, "database.tls = off, but database.ca_file is set", "off with a ca_file");
	snprintf(text, sizeof(text), "[database]\ntls = verify\ncert_file = %s\n", cert);
	refused(text, "database.cert_file and database.key_file go together", "a certificate without its key");
	snprintf(text, sizeof(text), "[database]\ntls = verify\nkey_file = %s\n", key);
	refused(text, "go together", "a key without its certificate");
	snprintf(text, sizeof(text), "[database]\nhost = db\nca_file = %s\ncert_file = %s\nkey_file = %s\n", ca, cert, key);
	ok(load(text, &c, err, sizeof(err)) == 0, "ca, certificate and a 0600 key load: %s", err);
	is_str(c.db_ca_file, ca, "ca_file kept");
	is_str(c.db_key_file, key, "key_file kept");
	config_free(&c);
	chmod(key, 0640);
	ok(load(text, &c, err, sizeof(err)) == 0, "a 0640 key (the daemon's group) loads: %s", err);
	config_free(&c);
	chmod(key, 0644);
	refused(text, "database.key_file", "a key others may read refused");
	ok(load(text, &c, err, sizeof(err)) != 0 && strstr(err, "readable by others") != NULL &&
	   strstr(err, "0644") != NULL && strstr(err, key) != NULL, "the message: the file, its mode: %s", err);
	config_free(&c);
	chmod(key, 0600);
	chmod(ca, 0644);
	ok(load(text, &c, err, sizeof(err)) == 0, "a CA others may read is no secret: %s", err);
	config_free(&c);
	if (geteuid() != 0) {
		chmod(ca, 0);
		refused(text, "database.ca_file", "a ca_file this user cannot read");
		chmod(ca, 0644);
	}
}

/* A file of tls keys and a password: the config's own secret rules still
 * hold; the paths in it are no secret. */
static void in_a_file(void)
{
	struct cfg c;
	char err[512] = "";
	FILE *f = fopen(conf, "w");
	if (f == NULL)
		return;
	fprintf(f, "[database]\nhost = db\ntls = verify\nca_file = %s\ncert_file = %s\nkey_file = %s\n", ca, cert, key);
	fclose(f);
	chmod(conf, 0644);
	ok(config_load(conf, test_modules, &c, err, sizeof(err)) == 0, "tls paths in a 0644 file: %s", err);
	config_free(&c);
}

int main(void)
{
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", dir);
	snprintf(key, sizeof(key), "%s/client.key", dir);
	snprintf(conf, sizeof(conf), "%s/creditd.conf", dir);
	write_file(ca, 0644);
	write_file(cert, 0644);
	write_file(key, 0600);
	unsetenv("CREDITD_DB_TLS");
	default_by_host();
	the_files();
	in_a_file();
	unlink(ca);
	unlink(cert);
	unlink(key);
	unlink(conf);
	rmdir(dir);
	return done_testing();
}
