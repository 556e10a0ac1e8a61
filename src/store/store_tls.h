/* store_tls.h: database.tls applied to a connection before it connects,
 * and a failed connect's hint naming the setting (store_tls.c). */
#ifndef CREDITD_STORE_TLS_H
#define CREDITD_STORE_TLS_H
#include <mysql.h>
#include <stddef.h>
#include "config.h"

/* Sets db's TLS options from c (c->db_tls, ca_file, cert_file,
 * key_file): the same on every node's connection. 0, or -1 when the
 * library refused one (out of memory). */
int store_tls_options(MYSQL *db, const struct cfg *c);
/* A sentence for a connect that failed with MariaDB's error dberr and
 * message msg, when TLS (or its absence) is the likely cause, naming
 * database.tls and its files (written into buf of cap bytes); "" when
 * none applies. host is the node's. Returns buf. */
const char *store_tls_hint(const struct cfg *c, const char *host, unsigned dberr, const char *msg, char *buf,
			   size_t cap);
#endif
