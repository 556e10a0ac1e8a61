/* config_tls.c: [database] tls, ca_file, cert_file and key_file checked
 * at load, and the mode every connection to the database uses resolved
 * (docs/configuration.md, "TLS to MariaDB").
 *
 * An empty tls means by host: verify the server's certificate unless
 * every node is this machine (a unix socket, localhost, 127.0.0.0/8,
 * ::1), where there is no network to protect and off stays the default.
 * The files are opened here, so a start and `creditd -t` refuse a path
 * this user cannot read with the key's name, rather than the first
 * connection failing later; the client's key is a secret as the config's
 * passwords are: refused when others may read it. */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *config_tls_valid(const char *v)
{
	if (v[0] == '\0' || strcmp(v, "off") == 0 || strcmp(v, "required") == 0 || strcmp(v, "verify") == 0)
		return NULL;
	return "must be one of off|required|verify (or empty: verify, off for a loopback database)";
}

int config_tls_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (host[0] == '\0' || strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6);
	return 0;
}

static int fail(char *err, size_t errcap, const char *what, const char *key, const char *path)
{
	snprintf(err, errcap, "database.%s %s: %s", key, path, what);
	return -1;
}

/* Opens path (the value of database.key) as this user would at connect:
 * a regular file it can read; others must not read it when secret. */
static int file_ok(const char *key, const char *path, int secret, char *err, size_t errcap)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(err, errcap, strerror(errno), key, path);
	int rc = fstat(fd, &st);
	int saved = errno;
	close(fd);
	if (rc != 0)
		return fail(err, errcap, strerror(saved), key, path);
	if (!S_ISREG(st.st_mode))
		return fail(err, errcap, "not a regular file", key, path);
	if (secret && (st.st_mode & 0004) != 0) {
		snprintf(err, errcap, "database.%s %s is readable by others (mode %04o): a private key is a secret; "
			 "chmod o-r it (0600, or 0640 with the daemon's group)", key, path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

const char *config_tls_remote(const struct cfg *c)
{
	if (c->db_nodes[0] == '\0' && c->db_socket[0] != '\0')
		return NULL;
	for (int i = 0; i < c->db_node_count; i++)
		if (!config_tls_loopback(c->db_node[i].host))
			return c->db_node[i].name;
	return NULL;
}

int config_tls_finish(struct cfg *c, char *err, size_t errcap)
{
	const char *t = c->db_tls_text;
	int files = c->db_ca_file[0] != '\0' || c->db_cert_file[0] != '\0';
	if ((c->db_cert_file[0] == '\0') != (c->db_key_file[0] == '\0')) {
		snprintf(err, errcap, "database.cert_file and database.key_file go together: set both or neither");
		return -1;
	}
	if (strcmp(t, "off") == 0 && files) {
		snprintf(err, errcap, "database.tls = off, but database.%s is set: set tls = verify (or required), "
			 "or leave the file out", c->db_ca_file[0] != '\0' ? "ca_file" : "cert_file");
		return -1;
	}
	if (t[0] == '\0')
		c->db_tls = files || config_tls_remote(c) != NULL ? CFG_TLS_VERIFY : CFG_TLS_OFF;
	else
		c->db_tls = strcmp(t, "off") == 0 ? CFG_TLS_OFF : strcmp(t, "required") == 0 ? CFG_TLS_REQUIRED
			: CFG_TLS_VERIFY;
	if (c->db_ca_file[0] != '\0' && file_ok("ca_file", c->db_ca_file, 0, err, errcap) != 0)
		return -1;
	if (c->db_cert_file[0] != '\0' && file_ok("cert_file", c->db_cert_file, 0, err, errcap) != 0)
		return -1;
	if (c->db_key_file[0] != '\0' && file_ok("key_file", c->db_key_file, 1, err, errcap) != 0)
		return -1;
	return 0;
}
