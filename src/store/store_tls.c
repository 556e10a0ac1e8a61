/* store_tls.c: TLS to MariaDB through Connector/C's options
 * (docs/configuration.md, "TLS to MariaDB").
 *
 * off asks for no TLS; required insists on it (MYSQL_OPT_SSL_ENFORCE: a
 * server without TLS is refused) and checks no certificate, or only its
 * chain when ca_file is given; verify adds MYSQL_OPT_SSL_VERIFY_SERVER_CERT:
 * the chain to ca_file (empty: OpenSSL's default store, the system's CAs)
 * and the host name or address in the certificate. Verification is set
 * both ways, never left to the library's default, which changed in
 * Connector/C 3.4 (it verifies unless told not to). A client certificate
 * goes with any mode but off. */
#include "store_tls.h"
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

int store_tls_options(MYSQL *db, const struct cfg *c)
{
	my_bool enforce = c->db_tls != CFG_TLS_OFF, verify = c->db_tls == CFG_TLS_VERIFY;
	int rc = 0;
	rc |= mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	if (c->db_tls == CFG_TLS_OFF)
		return rc != 0 ? -1 : 0;
	rc |= mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &enforce);
	if (c->db_ca_file[0] != '\0')
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_CA, c->db_ca_file);
	if (c->db_cert_file[0] != '\0') {
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_CERT, c->db_cert_file);
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_KEY, c->db_key_file);
	}
	return rc != 0 ? -1 : 0;
}

/* 1 when the connection to host goes through a unix socket (secure
 * transport to the server whatever tls says). */
static int over_socket(const struct cfg *c, const char *host)
{
	return (c->db_nodes[0] == '\0' && c->db_socket[0] != '\0') || host[0] == '\0' || strcmp(host, "localhost") == 0;
}

const char *store_tls_hint(const struct cfg *c, const char *host, unsigned dberr, const char *msg, char *buf,
			   size_t cap)
{
	buf[0] = '\0';
	int tls_said = strstr(msg, "SSL") != NULL || strstr(msg, "TLS") != NULL || strstr(msg, "certificate") != NULL;
	/* MariaDB 10.11 refuses a plain connection to a server with
	 * require_secure_transport, or as a user REQUIRE SSL or X509, as
	 * it refuses a wrong password: 1045, access denied. */
	if (c->db_tls == CFG_TLS_OFF) {
		if (dberr == ER_ACCESS_DENIED_ERROR && !over_socket(c, host))
			snprintf(buf, cap, " (database.tls = off: a server that requires TLS (require_secure_transport, "
				 "or the user's REQUIRE SSL or X509) refuses a plain connection so; set database.tls = "
				 "verify with database.ca_file)");
		return buf;
	}
	if (dberr != CR_SSL_CONNECTION_ERROR && !tls_said)
		return buf;
	if (c->db_tls == CFG_TLS_REQUIRED)
		snprintf(buf, cap, " (database.tls = required%s%s)", c->db_ca_file[0] ? ": database.ca_file " : "",
			 c->db_ca_file);
	else
		snprintf(buf, cap, " (database.tls = verify: the server's certificate must be signed by %s%s and "
			 "name %s)", c->db_ca_file[0] ? "database.ca_file " : "the system's CAs (database.ca_file is empty)",
			 c->db_ca_file, host[0] ? host : "localhost");
	return buf;
}
