/* gwmultipart.c: a multipart/form-data body's parts, read where the
 * client's bytes lie (gwmultipart.h; docs/gateway.md, "Multipart bodies").
 *
 * Owns: the boundary of a Content-Type, the walk from delimiter to
 * delimiter, each part's headers (Content-Disposition's name and
 * filename, Content-Type), the check that no name is given twice, and
 * the small text fields a route reads as strings.
 *
 * Never: reads past the body's length (every index is checked against
 * it, and the searches are bounded memmem over [pos, len)), writes to the
 * body, allocates, or keeps a pointer past the caller's. It decodes
 * nothing: where the bytes could be read two ways it refuses them, so
 * that what creditd prices is what the provider reads.
 *
 * Why: images/edits and audio/transcriptions (and files) send their
 * fields as a form, and the body goes to the provider as it came. A hold
 * decided on one reading of a body the provider reads another way (a
 * second "model", a part hidden in what a lenient reader takes for data)
 * would price the wrong call (docs/decisions.md, "Multipart bodies: a
 * reader of our own").
 *
 * How: the boundary's text ("--" boundary) is found with memmem, each
 * byte of data looked at by the search alone, and every place it is
 * found must be a delimiter (after CRLF, before padding and CRLF or
 * "--"); headers, a few hundred bytes a part, are read byte by byte
 * within their limit. */
#include "gwmultipart.h"
#include "limits.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* A header's value, as offsets into the body. */
struct span {
	size_t at, end;
};

/* An RFC 7230 token character. */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A character RFC 2046's bchars allow (space aside). */
static int is_bchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("'()+_,-./:=?", c) != NULL;
}

/* A character a form name may have (gwmultipart.h). */
static int is_name_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("_.[]-", c) != NULL;
}

/* A byte no header value may hold: controls but tab, and DEL. */
static int is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Whether the n bytes at s are word, case-insensitive. */
static int same_word(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* A Content-Type parameter's value at *s (a token, or a quoted string
 * with no backslash and no control byte): its bytes in *v, *vn; *s past
 * it. -1 when it is neither. */
static int ct_value(const char **s, const char **v, size_t *vn, int *quoted)
{
	const char *p = *s;

	*quoted = *p == '"';
	if (*quoted) {
		p++;
		*v = p;
		while (*p != '"') {
			if (*p == '\0' || *p == '\\' || is_control((unsigned char)*p))
				return -1;
			p++;
		}
		*vn = (size_t)(p - *v);
		*s = p + 1;
		return 0;
	}
	*v = p;
	while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t' && *p != '"' && *p != '\\' &&
	       !is_control((unsigned char)*p))
		p++;
	*vn = (size_t)(p - *v);
	*s = p;
	return *vn > 0 ? 0 : -1;
}

/* The boundary's value (v, vn bytes) checked against RFC 2046 5.1.1 and
 * copied into out. */
static enum gwmultipart_err boundary_take(const char *v, size_t vn, int quoted, char *out, size_t cap)
{
	if (vn == 0 || vn > GWMULTIPART_BOUNDARY_MAX || vn >= cap || v[vn - 1] == ' ')
		return GWMULTIPART_E_BOUNDARY;
	for (size_t i = 0; i < vn; i++) {
		if (!is_bchar((unsigned char)v[i]) && !(quoted && v[i] == ' '))
			return GWMULTIPART_E_BOUNDARY;
	}
	memcpy(out, v, vn);
	out[vn] = '\0';
	return GWMULTIPART_OK;
}

/* The parameters after the media type: ";" name "=" value, each. */
static enum gwmultipart_err ct_params(const char *s, char *out, size_t cap, size_t *blen)
{
	const char *name, *v;
	size_t nn, vn;
	int quoted, found = 0;
	enum gwmultipart_err err;

	while (*s != '\0') {
		if (*s != ';')
			return GWMULTIPART_E_TYPE;
		s = skip_ows(s + 1);
		if (*s == '\0')
			break;
		name = s;
		while (is_tchar((unsigned char)*s))
			s++;
		nn = (size_t)(s - name);
		if (nn == 0 || *s != '=')
			return GWMULTIPART_E_TYPE;
		s++;
		if (ct_value(&s, &v, &vn, &quoted) != 0)
			return same_word(name, nn, "boundary") ? GWMULTIPART_E_BOUNDARY : GWMULTIPART_E_TYPE;
		if (same_word(name, nn, "boundary")) {
			if (found)
				return GWMULTIPART_E_BOUNDARY;
			err = boundary_take(v, vn, quoted, out, cap);
			if (err != GWMULTIPART_OK)
				return err;
			found = 1;
			*blen = vn;
		} else if (nn > 8 && strncasecmp(name, "boundary*", 9) == 0) {
			return GWMULTIPART_E_BOUNDARY;
		}
		s = skip_ows(s);
	}
	return found ? GWMULTIPART_OK : GWMULTIPART_E_BOUNDARY;
}

int gwmultipart_boundary(const char *content_type, char *out, size_t cap, enum gwmultipart_err *why)
{
	static const char type[] = "multipart/form-data";
	enum gwmultipart_err err = GWMULTIPART_E_TYPE;
	const char *s;
	size_t blen = 0;

	if (cap > 0)
		out[0] = '\0';
	if (content_type == NULL)
		goto out;
	s = skip_ows(content_type);
	if (strncasecmp(s, type, sizeof type - 1) != 0)
		goto out;
	s = skip_ows(s + sizeof type - 1);
	err = ct_params(s, out, cap, &blen);
out:
	if (why != NULL)
		*why = err;
	if (err != GWMULTIPART_OK) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return (int)blen;
}

/* Fails the parse at offset (and part, if any). */
static enum gwmultipart_err fail(struct gwmultipart *mp, enum gwmultipart_err err, size_t offset)
{
	mp->err_offset = offset;
	return err;
}

/* A Content-Disposition parameter's value at body[*p] (up to end): a
 * token, or a quoted string with no control byte, whose backslashes come
 * in pairs (httpx writes a filename's backslash as two): a reader that
 * takes RFC 2045's escapes and one that does not then end it at the same
 * quote. A backslash before anything else (\" above all) is refused. */
static int cd_value(const unsigned char *b, size_t *p, size_t end, struct span *v, int *quoted)
{
	size_t i = *p;

	*quoted = i < end && b[i] == '"';
	if (*quoted) {
		v->at = ++i;
		while (i < end && b[i] != '"') {
			if (is_control(b[i]))
				return -1;
			if (b[i] == '\\' && (i + 1 == end || b[i + 1] != '\\'))
				return -1;
			i += b[i] == '\\' ? 2 : 1;
		}
		if (i >= end)
			return -1;
		v->end = i;
		*p = i + 1;
		return 0;
	}
	v->at = i;
	while (i < end && is_tchar(b[i]))
		i++;
	v->end = i;
	*p = i;
	return v->end > v->at ? 0 : -1;
}

/* What a Content-Disposition's parameters gave beyond the part's own
 * fields. */
struct cd_seen {
	int name;		/* name= */
	int star;		/* filename*= */
	struct span star_value;
};

/* One parameter of a Content-Disposition (its name nn bytes at name):
 * name and filename taken (once each), filename* kept to be compared with
 * filename, other RFC 2231 forms refused, others skipped. */
static enum gwmultipart_err cd_param(struct gwmultipart_part *part, const char *name, size_t nn,
				     struct span v, int quoted, struct cd_seen *seen)
{
	if (same_word(name, nn, "name")) {
		if (seen->name)
			return GWMULTIPART_E_DISPOSITION;
		seen->name = 1;
		part->name_offset = v.at;
		part->name_len = v.end - v.at;
	} else if (same_word(name, nn, "filename")) {
		if (part->has_filename)
			return GWMULTIPART_E_DISPOSITION;
		part->has_filename = 1;
		part->filename_offset = v.at;
		part->filename_len = v.end - v.at;
	} else if (same_word(name, nn, "filename*")) {
		/* RFC 5987's ext-value is a token, never quoted. */
		if (seen->star || quoted)
			return GWMULTIPART_E_DISPOSITION;
		seen->star = 1;
		seen->star_value = v;
	} else if ((nn >= 5 && strncasecmp(name, "name*", 5) == 0) || (nn >= 9 && strncasecmp(name, "filename*", 9) == 0)) {
		/* name*=, and RFC 2231's continuations (name*0=, filename*1*=). */
		return GWMULTIPART_E_DISPOSITION;
	}
	return GWMULTIPART_OK;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Whether filename*= (RFC 5987: charset ' language ' percent-escaped
 * bytes) says exactly the bytes filename= gives: .NET's
 * MultipartFormDataContent sends both, equal for an ASCII name. Two that
 * differ could make the provider read another file type than creditd. */
static int star_same(const unsigned char *b, const struct gwmultipart_part *part, struct span star)
{
	size_t p = star.at, q = part->filename_offset, qend = q + part->filename_len;
	unsigned char c;

	while (p < star.end && b[p] != '\'')
		p++;
	if (p == star.end || (!same_word((const char *)b + star.at, p - star.at, "utf-8") &&
			      !same_word((const char *)b + star.at, p - star.at, "us-ascii")))
		return 0;
	p++;
	while (p < star.end && b[p] != '\'')
		p++;
	if (p == star.end)
		return 0;
	for (p++; p < star.end; q++) {
		c = b[p++];
		if (c == '%') {
			if (star.end - p < 2 || hex_value(b[p]) < 0 || hex_value(b[p + 1]) < 0)
				return 0;
			c = (unsigned char)(hex_value(b[p]) << 4 | hex_value(b[p + 1]));
			p += 2;
		}
		if (q == qend || b[q] != c)
			return 0;
	}
	return q == qend;
}

/* A part's name: 1..LIMIT_GATEWAY_MULTIPART_NAME_BYTES of [A-Za-z0-9_.[]-]. */
static enum gwmultipart_err name_check(struct gwmultipart *mp, const struct gwmultipart_part *part)
{
	if (part->name_len == 0 || part->name_len > LIMIT_GATEWAY_MULTIPART_NAME_BYTES)
		return fail(mp, GWMULTIPART_E_NAME, part->name_offset);
	for (size_t i = 0; i < part->name_len; i++) {
		if (!is_name_char(mp->body[part->name_offset + i]))
			return fail(mp, GWMULTIPART_E_NAME, part->name_offset + i);
	}
	return GWMULTIPART_OK;
}

/* A part's Content-Disposition value, body[v.at..v.end): "form-data",
 * then its parameters; the name checked (gwmultipart.h). */
static enum gwmultipart_err disposition(struct gwmultipart *mp, struct gwmultipart_part *part, struct span v)
{
	const unsigned char *b = mp->body;
	size_t p = v.at, nat, nend;
	struct cd_seen seen = { 0, 0, { 0, 0 } };
	struct span val;
	int quoted;
	enum gwmultipart_err err;

	while (p < v.end && is_tchar(b[p]))
		p++;
	if (!same_word((const char *)b + v.at, p - v.at, "form-data"))
		return fail(mp, GWMULTIPART_E_DISPOSITION, v.at);
	while (p < v.end) {
		while (p < v.end && (b[p] == ' ' || b[p] == '\t'))
			p++;
		if (p == v.end)
			break;
		if (b[p] != ';')
			return fail(mp, GWMULTIPART_E_DISPOSITION, p);
		p++;
		while (p < v.end && (b[p] == ' ' || b[p] == '\t'))
			p++;
		if (p == v.end)
			break;
		nat = p;
		while (p < v.end && is_tchar(b[p]))
			p++;
		nend = p;
		if (p == nat || p == v.end || b[p] != '=')
			return fail(mp, GWMULTIPART_E_DISPOSITION, p);
		p++;
		if (cd_value(b, &p, v.end, &val, &quoted) != 0)
			return fail(mp, GWMULTIPART_E_DISPOSITION, p);
		err = cd_param(part, (const char *)b + nat, nend - nat, val, quoted, &seen);
		if (err != GWMULTIPART_OK)
			return fail(mp, err, nat);
	}
	if (!seen.name)
		return fail(mp, GWMULTIPART_E_DISPOSITION, v.at);
	if (seen.star && (!part->has_filename || !star_same(b, part, seen.star_value)))
		return fail(mp, GWMULTIPART_E_DISPOSITION, seen.star_value.at);
	return name_check(mp, part);
}

/* Which of the headers read once a part has given. */
struct seen {
	int disposition, type, encoding;
};

/* A Content-Transfer-Encoding that leaves the data as sent. */
static int identity_encoding(const unsigned char *b, struct span v)
{
	const char *s = (const char *)b + v.at;
	size_t n = v.end - v.at;

	return same_word(s, n, "7bit") || same_word(s, n, "8bit") || same_word(s, n, "binary");
}

/* One header line of a part, body[at..end) (its CRLF excluded): a token,
 * a colon, a value with the spaces around it trimmed. */
static enum gwmultipart_err header_line(struct gwmultipart *mp, struct gwmultipart_part *part, size_t at,
					size_t end, struct seen *seen)
{
	const unsigned char *b = mp->body;
	const char *name = (const char *)b + at;
	size_t p = at, nn;
	struct span v;

	while (p < end && is_tchar(b[p]))
		p++;
	if (p == at || p == end || b[p] != ':')
		return fail(mp, GWMULTIPART_E_HEADER, p);
	nn = p - at;
	p++;
	while (p < end && (b[p] == ' ' || b[p] == '\t'))
		p++;
	v.at = p;
	v.end = end;
	while (v.end > v.at && (b[v.end - 1] == ' ' || b[v.end - 1] == '\t'))
		v.end--;
	if (same_word(name, nn, "content-disposition")) {
		if (seen->disposition)
			return fail(mp, GWMULTIPART_E_DISPOSITION, at);
		seen->disposition = 1;
		return disposition(mp, part, v);
	}
	if (same_word(name, nn, "content-type")) {
		if (seen->type)
			return fail(mp, GWMULTIPART_E_HEADER, at);
		seen->type = 1;
		part->has_type = 1;
		part->type_offset = v.at;
		part->type_len = v.end - v.at;
	} else if (same_word(name, nn, "content-transfer-encoding")) {
		if (seen->encoding || !identity_encoding(b, v))
			return fail(mp, GWMULTIPART_E_ENCODING, at);
		seen->encoding = 1;
	}
	return GWMULTIPART_OK;
}

/* A part's header block from *pos to its blank line (*pos then after
 * it), at most LIMIT_GATEWAY_MULTIPART_HEADER_BYTES, all before the next
 * delimiter (at): every line a header ended by CRLF, one of them a
 * Content-Disposition. A header line that starts with the boundary is
 * that delimiter to another reader: refused, as is the blank line's CRLF
 * taken as the delimiter's (a part with no data then, to that reader). */
static enum gwmultipart_err headers(struct gwmultipart *mp, struct gwmultipart_part *part, size_t *pos, size_t at)
{
	const unsigned char *b = mp->body;
	size_t p = *pos, line, end = at;
	enum gwmultipart_err short_err = at < mp->len ? GWMULTIPART_E_DELIMITER : GWMULTIPART_E_TRUNCATED;
	struct seen seen = { 0, 0, 0 };
	enum gwmultipart_err err;

	if (end - p > LIMIT_GATEWAY_MULTIPART_HEADER_BYTES) {
		end = p + LIMIT_GATEWAY_MULTIPART_HEADER_BYTES;
		short_err = GWMULTIPART_E_HEADER_TOO_LONG;
	}
	for (;;) {
		line = p;
		while (p < end && !is_control(b[p]))
			p++;
		if (p == end)
			return fail(mp, short_err, p);
		if (b[p] != '\r')
			return fail(mp, GWMULTIPART_E_HEADER, p);
		if (p + 1 == end)
			return fail(mp, short_err, p + 1);
		if (b[p + 1] != '\n')
			return fail(mp, GWMULTIPART_E_HEADER, p + 1);
		if (p == line)
			break;
		err = header_line(mp, part, line, p, &seen);
		if (err != GWMULTIPART_OK)
			return err;
		p += 2;
	}
	*pos = p + 2;
	if (!seen.disposition)
		return fail(mp, GWMULTIPART_E_DISPOSITION, line);
	return GWMULTIPART_OK;
}

/* The next "--" boundary at or after from: a delimiter only after CRLF,
 * the offset of that CR in *at (mp->len when there is none). Anywhere
 * else (after a bare LF, mid-line) the boundary's text is refused, not
 * taken for data: a reader that takes LF for CRLF, or splits on the
 * boundary wherever it is, would find other parts there. The CRLF may
 * lie before from (a part with no headers: the caller sees *at < from). */
static enum gwmultipart_err next_delimiter(struct gwmultipart *mp, size_t from, size_t *at)
{
	const unsigned char *hit;
	size_t n = mp->delimiter_len - 2, h;

	*at = mp->len;
	if (from >= mp->len || mp->len - from < n)
		return GWMULTIPART_OK;
	hit = memmem(mp->body + from, mp->len - from, mp->delimiter + 2, n);
	if (hit == NULL)
		return GWMULTIPART_OK;
	h = (size_t)(hit - mp->body);
	if (h < 2 || mp->body[h - 2] != '\r' || mp->body[h - 1] != '\n')
		return fail(mp, GWMULTIPART_E_DELIMITER, h);
	*at = h - 2;
	return GWMULTIPART_OK;
}

/* The opening delimiter: the body's first bytes ("--" boundary), or the
 * first after CRLF past a preamble (which may not hold the boundary
 * elsewhere). *pos after its boundary. */
static enum gwmultipart_err first_delimiter(struct gwmultipart *mp, size_t *pos)
{
	size_t dash = mp->delimiter_len - 2, at;
	enum gwmultipart_err err;

	if (mp->len >= dash && memcmp(mp->body, mp->delimiter + 2, dash) == 0) {
		*pos = dash;
		return GWMULTIPART_OK;
	}
	err = next_delimiter(mp, 0, &at);
	if (err != GWMULTIPART_OK)
		return err;
	if (at == mp->len)
		return fail(mp, GWMULTIPART_E_NO_DELIMITER, mp->len);
	*pos = at + mp->delimiter_len;
	return GWMULTIPART_OK;
}

/* After a delimiter's boundary at *pos: "--" (the close, *close set), or
 * transport padding and CRLF (a part follows); *pos past either. */
static enum gwmultipart_err after_delimiter(struct gwmultipart *mp, size_t *pos, int *close)
{
	const unsigned char *b = mp->body;
	size_t p = *pos, len = mp->len;

	*close = 0;
	if (p + 2 <= len && b[p] == '-' && b[p + 1] == '-') {
		*close = 1;
		*pos = p + 2;
		return GWMULTIPART_OK;
	}
	if (p + 1 == len && b[p] == '-')
		return fail(mp, GWMULTIPART_E_TRUNCATED, len);
	while (p < len && (b[p] == ' ' || b[p] == '\t'))
		p++;
	if (p == len)
		return fail(mp, GWMULTIPART_E_TRUNCATED, len);
	if (b[p] != '\r')
		return fail(mp, GWMULTIPART_E_DELIMITER, p);
	if (p + 1 == len)
		return fail(mp, GWMULTIPART_E_TRUNCATED, len);
	if (b[p + 1] != '\n')
		return fail(mp, GWMULTIPART_E_DELIMITER, p + 1);
	*pos = p + 2;
	return GWMULTIPART_OK;
}

/* After the close delimiter at pos: transport padding, then the end or
 * CRLF and an epilogue that does not hold the boundary again. */
static enum gwmultipart_err epilogue(struct gwmultipart *mp, size_t pos)
{
	const unsigned char *b = mp->body, *hit;
	size_t p = pos, len = mp->len, dash = mp->delimiter_len - 2;

	while (p < len && (b[p] == ' ' || b[p] == '\t'))
		p++;
	if (p == len)
		return GWMULTIPART_OK;
	if (b[p] != '\r' || p + 1 == len || b[p + 1] != '\n')
		return fail(mp, GWMULTIPART_E_DELIMITER, p);
	p += 2;
	if (len - p < dash)
		return GWMULTIPART_OK;
	hit = memmem(b + p, len - p, mp->delimiter + 2, dash);
	if (hit != NULL)
		return fail(mp, GWMULTIPART_E_EPILOGUE, (size_t)(hit - b));
	return GWMULTIPART_OK;
}

/* A part's name without a closing "[]" (*array set when it has one). */
static size_t base_len(const unsigned char *b, const struct gwmultipart_part *p, int *array)
{
	const unsigned char *s = b + p->name_offset;
	size_t n = p->name_len;

	*array = n > 2 && s[n - 2] == '[' && s[n - 1] == ']';
	return *array ? n - 2 : n;
}

/* Whether part k's name is one a part before it gave: the same name,
 * or "x" and "x[]"; the elements of an array ("x[]" each) excepted. */
static int duplicate(const struct gwmultipart *mp, size_t k)
{
	const struct gwmultipart_part *q = &mp->parts[k];
	int qa, pa;
	size_t qn = base_len(mp->body, q, &qa), pn;

	for (size_t i = 0; i < k; i++) {
		const struct gwmultipart_part *p = &mp->parts[i];

		pn = base_len(mp->body, p, &pa);
		if (pn == qn && memcmp(mp->body + p->name_offset, mp->body + q->name_offset, qn) == 0 && !(pa && qa))
			return 1;
	}
	return 0;
}

/* One part from *pos (after its delimiter's CRLF) to the next delimiter
 * (*pos then after that delimiter's boundary). */
static enum gwmultipart_err read_part(struct gwmultipart *mp, size_t *pos)
{
	struct gwmultipart_part *part = &mp->parts[mp->n];
	enum gwmultipart_err err;
	size_t at;

	memset(part, 0, sizeof *part);
	mp->err_part = mp->n;
	/* "--" boundary right after the delimiter's line is a part with no
	 * headers at all. */
	err = next_delimiter(mp, *pos, &at);
	if (err != GWMULTIPART_OK)
		return err;
	if (at < *pos)
		return fail(mp, GWMULTIPART_E_DISPOSITION, *pos);
	err = headers(mp, part, pos, at);
	if (err != GWMULTIPART_OK)
		return err;
	if (at == mp->len)
		return fail(mp, GWMULTIPART_E_TRUNCATED, mp->len);
	part->data_offset = *pos;
	part->data_len = at - *pos;
	*pos = at + mp->delimiter_len;
	if (duplicate(mp, mp->n))
		return fail(mp, GWMULTIPART_E_DUPLICATE, part->name_offset);
	mp->n++;
	mp->err_part = SIZE_MAX;
	return GWMULTIPART_OK;
}

enum gwmultipart_err gwmultipart_parse(struct gwmultipart *mp, const unsigned char *body, size_t len,
				       const char *boundary, struct gwmultipart_part *parts, size_t cap)
{
	size_t blen, pos = 0, most = cap < LIMIT_GATEWAY_MULTIPART_PARTS ? cap : LIMIT_GATEWAY_MULTIPART_PARTS;
	enum gwmultipart_err err;
	int close;

	memset(mp, 0, sizeof *mp);
	mp->body = body;
	mp->len = body != NULL ? len : 0;
	mp->parts = parts;
	mp->cap = cap;
	mp->err_part = SIZE_MAX;
	blen = boundary != NULL ? strnlen(boundary, GWMULTIPART_BOUNDARY_MAX + 1) : 0;
	if (blen == 0 || blen > GWMULTIPART_BOUNDARY_MAX || mp->len == 0)
		return fail(mp, blen == 0 || blen > GWMULTIPART_BOUNDARY_MAX ? GWMULTIPART_E_BOUNDARY :
			    GWMULTIPART_E_NO_DELIMITER, 0);
	memcpy(mp->delimiter, "\r\n--", 4);
	memcpy(mp->delimiter + 4, boundary, blen);
	mp->delimiter[4 + blen] = '\0';
	mp->delimiter_len = 4 + blen;
	err = first_delimiter(mp, &pos);
	while (err == GWMULTIPART_OK) {
		err = after_delimiter(mp, &pos, &close);
		if (err != GWMULTIPART_OK)
			break;
		if (close)
			return mp->n == 0 ? fail(mp, GWMULTIPART_E_NO_PARTS, pos) : epilogue(mp, pos);
		if (mp->n == most) {
			mp->err_part = mp->n;
			return fail(mp, GWMULTIPART_E_TOO_MANY_PARTS, pos);
		}
		err = read_part(mp, &pos);
	}
	return err;
}

const char *gwmultipart_strerror(enum gwmultipart_err err)
{
	switch (err) {
	case GWMULTIPART_OK: return "ok";
	case GWMULTIPART_E_TYPE: return "the Content-Type is not multipart/form-data";
	case GWMULTIPART_E_BOUNDARY: return "the Content-Type's boundary is missing, given twice or not as RFC 2046 allows";
	case GWMULTIPART_E_NO_DELIMITER: return "the body holds no delimiter of its boundary";
	case GWMULTIPART_E_DELIMITER: return "the boundary appears other than as a delimiter (inside a part, after a bare LF, or followed by other bytes)";
	case GWMULTIPART_E_HEADER: return "a part's header is malformed or given twice";
	case GWMULTIPART_E_HEADER_TOO_LONG: return "a part's headers are too long";
	case GWMULTIPART_E_DISPOSITION: return "a part has no Content-Disposition form-data with one name (or gives name* or filename*)";
	case GWMULTIPART_E_NAME: return "a part's name is empty, too long or has a character other than letters, digits and _.[]-";
	case GWMULTIPART_E_ENCODING: return "a part's Content-Transfer-Encoding is not 7bit, 8bit or binary";
	case GWMULTIPART_E_TRUNCATED: return "the body ends before its close delimiter";
	case GWMULTIPART_E_TOO_MANY_PARTS: return "the body has too many parts";
	case GWMULTIPART_E_NO_PARTS: return "the body has no part";
	case GWMULTIPART_E_DUPLICATE: return "a field is given twice";
	case GWMULTIPART_E_EPILOGUE: return "the boundary appears again after the close delimiter";
	}
	return "unknown error";
}

int gwmultipart_is(const struct gwmultipart *mp, const struct gwmultipart_part *p, const char *name)
{
	size_t n = strlen(name);

	return p->name_len == n && memcmp(mp->body + p->name_offset, name, n) == 0;
}

const struct gwmultipart_part *gwmultipart_find(const struct gwmultipart *mp, const char *name)
{
	for (size_t i = 0; i < mp->n; i++) {
		if (gwmultipart_is(mp, &mp->parts[i], name))
			return &mp->parts[i];
	}
	return NULL;
}

size_t gwmultipart_count(const struct gwmultipart *mp, const char *name)
{
	size_t count = 0;

	for (size_t i = 0; i < mp->n; i++)
		count += gwmultipart_is(mp, &mp->parts[i], name) ? 1 : 0;
	return count;
}

int gwmultipart_copy(const struct gwmultipart *mp, size_t offset, size_t len, char *out, size_t cap)
{
	if (cap == 0)
		return -1;
	out[0] = '\0';
	if (offset > mp->len || len > mp->len - offset || len >= cap)
		return -1;
	if (len > 0 && memchr(mp->body + offset, '\0', len) != NULL)
		return -1;
	if (len > 0)
		memcpy(out, mp->body + offset, len);
	out[len] = '\0';
	return 0;
}

/* Whether a text field's Content-Type (s, n bytes) is text/plain in a
 * charset its bytes read alike in: none said, UTF-8 or US-ASCII. */
static int plain_text(const char *s, size_t n)
{
	static const char type[] = "text/plain", charset[] = "charset=";
	size_t i = sizeof type - 1, vn;

	if (n < i || strncasecmp(s, type, i) != 0)
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n)
		return 1;
	if (s[i++] != ';')
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i < sizeof charset - 1 || strncasecmp(s + i, charset, sizeof charset - 1) != 0)
		return 0;
	i += sizeof charset - 1;
	vn = n - i;
	if (vn >= 2 && s[i] == '"' && s[n - 1] == '"') {
		i++;
		vn -= 2;
	}
	return same_word(s + i, vn, "utf-8") || same_word(s + i, vn, "us-ascii");
}

enum gwmultipart_text gwmultipart_text(const struct gwmultipart *mp, const char *name, char *out, size_t cap)
{
	const struct gwmultipart_part *p = gwmultipart_find(mp, name);

	if (cap > 0)
		out[0] = '\0';
	if (p == NULL)
		return GWMULTIPART_TEXT_ABSENT;
	if (p->has_filename || (p->has_type && !plain_text((const char *)mp->body + p->type_offset, p->type_len)))
		return GWMULTIPART_TEXT_NOT_TEXT;
	if (p->data_len > 0 && memchr(mp->body + p->data_offset, '\0', p->data_len) != NULL)
		return GWMULTIPART_TEXT_NOT_TEXT;
	if (gwmultipart_copy(mp, p->data_offset, p->data_len, out, cap) != 0)
		return GWMULTIPART_TEXT_TOO_LONG;
	return GWMULTIPART_TEXT_OK;
}
