/* mailaddr.h: an email address as creditd takes it (an account's email,
 * [email] from): a plain RFC 5322 addr-spec, local-part "@" domain, both
 * dot-atoms of printable ASCII (no quoted local-part, no domain literal,
 * no comment, no display name), at most LIMIT_EMAIL_BYTES bytes, the
 * local-part at most 64 (RFC 5321). Nothing that could end a header line
 * or start another passes. */
#ifndef CREDITD_MAILADDR_H
#define CREDITD_MAILADDR_H

/* 1 when s is such an address, else 0 (NULL: 0). */
int mailaddr_ok(const char *s);
/* The domain of an address mailaddr_ok passed (what follows its "@"). */
const char *mailaddr_domain(const char *s);
#endif
