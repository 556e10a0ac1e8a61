/* gwmultipart.h: the parts of a multipart/form-data body a gateway route
 * receives (images/edits, audio/transcriptions, files; docs/gateway.md,
 * "Multipart bodies"). The body is the client's and goes to the provider
 * unchanged: this module only reads it, so the route can decide what to
 * hold and whether to refuse. Where two readers could see two different
 * forms in the same bytes (a name spelt two ways, a field given twice,
 * the boundary inside a part's data, header folding) the body is refused:
 * creditd must price what the provider will read.
 *
 * The parse takes a pointer and a length and returns offsets into them,
 * never pointers into a copy: a body held in memory and one streamed to a
 * file and mapped (mmap) are read alike, and the offsets stay right for
 * as long as the caller keeps the bytes. Pure: no I/O, no clock, no
 * allocation (the caller gives the array of parts); never reads past len.
 *
 * What is read, and what is refused (docs/gateway.md, "Multipart bodies"):
 * - CRLF line ends, as RFC 7578 and RFC 2046 require; a body with bare
 *   LF ends is refused (GWMULTIPART_E_DELIMITER or GWMULTIPART_E_HEADER).
 * - The preamble is skipped; the epilogue after the close delimiter is
 *   skipped unless it holds the boundary's text (GWMULTIPART_E_EPILOGUE:
 *   a reader that misses the close would find more parts there).
 * - A delimiter is CRLF "--" boundary, then spaces or tabs (transport
 *   padding), then CRLF (a part follows) or "--" (the close). The
 *   boundary's text ("--" boundary) anywhere else is refused: followed by
 *   other bytes, after a bare LF, mid-line, in a part's data or headers,
 *   in the preamble. RFC 2046 forbids it inside a part, and readers
 *   disagree on where a part then ends (some take LF for CRLF, some
 *   split on the boundary wherever it is); the SDKs and curl choose
 *   random boundaries so that it never is.
 * - A part's headers: names case-insensitive, "Name: value" lines ended by
 *   CRLF, no folding, no control bytes; at most
 *   LIMIT_GATEWAY_MULTIPART_HEADER_BYTES in all. Content-Disposition
 *   (once, "form-data", with a name) and Content-Type (at most once) are
 *   read; Content-Transfer-Encoding other than 7bit, 8bit or binary is
 *   refused (the value would be read decoded by some, raw by others);
 *   other headers are ignored.
 * - Content-Disposition's parameters: names case-insensitive, values a
 *   token or a quoted string whose backslashes come in pairs (httpx, the
 *   Python SDK's, writes a filename's backslash as two; openai-node as
 *   %5C): a reader of RFC 2045's escapes and one without end such a
 *   string at the same quote, where a lone backslash (\") would split
 *   them. name and filename at most once each. RFC 7578 4.2 says not
 *   to send RFC 2231's forms, and some readers prefer them to the plain
 *   one: name* and every continuation (name*0=, filename*1=) are refused;
 *   filename* (.NET's MultipartFormDataContent sends it beside filename)
 *   is taken only unquoted, beside a filename, in UTF-8 or US-ASCII, and
 *   saying the filename's very bytes once its %XX are read.
 * - A name is 1..LIMIT_GATEWAY_MULTIPART_NAME_BYTES characters of
 *   [A-Za-z0-9_.[]-]: every name the providers' forms use ("image[]",
 *   "timestamp_granularities[]", "chunking_strategy[type]"), and none a
 *   reader could decode into another.
 * - A name given twice is refused (GWMULTIPART_E_DUPLICATE: the provider
 *   might read either); names ending in "[]" are the SDKs' arrays
 *   (openai-node writes key + "[]" for each element) and may repeat, but
 *   "x" and "x[]" together are one field given twice.
 * - At most LIMIT_GATEWAY_MULTIPART_PARTS parts (and at most the array
 *   the caller gives); at least one. */
#ifndef CREDITD_GWMULTIPART_H
#define CREDITD_GWMULTIPART_H
#include <stddef.h>

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define GWMULTIPART_BOUNDARY_MAX 70
/* A buffer that holds any boundary and its NUL. */
#define GWMULTIPART_BOUNDARY_BYTES (GWMULTIPART_BOUNDARY_MAX + 1)

/* Why a Content-Type or a body is refused. */
enum gwmultipart_err {
	GWMULTIPART_OK = 0,
	GWMULTIPART_E_TYPE,		/* the Content-Type is not multipart/form-data, or its parameters cannot be read
					 * (a quoted string unclosed or with a backslash) */
	GWMULTIPART_E_BOUNDARY,		/* no boundary parameter, one given twice (or boundary*=), empty, past 70
					 * characters, ending with a space, or with a character RFC 2046 does not allow */
	GWMULTIPART_E_NO_DELIMITER,	/* the body holds no opening delimiter */
	GWMULTIPART_E_DELIMITER,	/* the boundary's text other than as a delimiter (inside a part, after a bare
					 * LF, followed by other bytes than padding and CRLF or "--"), or a part's
					 * headers running into a delimiter */
	GWMULTIPART_E_HEADER,		/* a part's header line malformed: no colon, a name not a token, folded, a
					 * control byte, a bare CR or LF; or Content-Type given twice */
	GWMULTIPART_E_HEADER_TOO_LONG,	/* a part's headers past LIMIT_GATEWAY_MULTIPART_HEADER_BYTES */
	GWMULTIPART_E_DISPOSITION,	/* no Content-Disposition, one given twice, not form-data, no name, a parameter
					 * given twice, name* or filename*, a value malformed */
	GWMULTIPART_E_NAME,		/* a name empty, too long or with a character outside [A-Za-z0-9_.[]-] */
	GWMULTIPART_E_ENCODING,		/* a Content-Transfer-Encoding other than 7bit, 8bit or binary */
	GWMULTIPART_E_TRUNCATED,	/* the body ends before its close delimiter (or inside a part's headers) */
	GWMULTIPART_E_TOO_MANY_PARTS,	/* more parts than LIMIT_GATEWAY_MULTIPART_PARTS or the caller's array */
	GWMULTIPART_E_NO_PARTS,		/* the close delimiter first: no part at all */
	GWMULTIPART_E_DUPLICATE,	/* a name given twice (GWMULTIPART_E_DUPLICATE's part is the second) */
	GWMULTIPART_E_EPILOGUE		/* the delimiter again after the close delimiter */
};

/* One part, as offsets into the body (valid while the body's bytes are). */
struct gwmultipart_part {
	size_t name_offset, name_len;		/* its name (checked: see above) */
	int has_filename;			/* a filename parameter was given (it may be empty) */
	size_t filename_offset, filename_len;	/* its bytes as sent, between the quotes: undecoded (an SDK's
						 * %22 stays %22, httpx's \\ stays as sent), no control byte */
	int has_type;				/* a Content-Type header was given */
	size_t type_offset, type_len;		/* its value, spaces around it trimmed */
	size_t data_offset, data_len;		/* the part's data: from after its headers' blank line to the
						 * CRLF before the next delimiter */
};

/* A parse's result. Filled by gwmultipart_parse; the caller owns it and
 * the array of parts, and keeps the body while it reads them. */
struct gwmultipart {
	const unsigned char *body;
	size_t len;
	struct gwmultipart_part *parts;	/* the caller's array */
	size_t cap;			/* its length */
	size_t n;			/* parts read */
	size_t err_offset;		/* on an error: the byte of the body at fault (len: the end) */
	size_t err_part;		/* on an error: the part at fault (its index), or (size_t)-1; on
					 * GWMULTIPART_E_DUPLICATE parts[err_part]'s name is the field's */
	/* The parse's own: CRLF "--" boundary, and its length. */
	char delimiter[4 + GWMULTIPART_BOUNDARY_MAX + 1];
	size_t delimiter_len;
};

/* The boundary of a Content-Type header's value (as the request gave it,
 * e.g. "multipart/form-data; boundary=----formdata-undici-0123"), copied
 * with its NUL into out (cap bytes; GWMULTIPART_BOUNDARY_BYTES holds any).
 * The media type and parameter names are case-insensitive; the boundary
 * may be quoted; other parameters (charset, ...) are skipped. Returns the
 * boundary's length (1..70), or -1 with *why (if why is not NULL) set to
 * GWMULTIPART_E_TYPE or GWMULTIPART_E_BOUNDARY (also when out is too
 * small). */
int gwmultipart_boundary(const char *content_type, char *out, size_t cap, enum gwmultipart_err *why);

/* Reads every part of body (len bytes) delimited by boundary (as
 * gwmultipart_boundary gave it) into parts (cap entries), and fills *mp.
 * GWMULTIPART_OK: mp->n parts (1..cap), every name checked and none given
 * twice. Otherwise the error, with mp->err_offset and mp->err_part saying
 * where; mp->n parts before it were read. Reads nothing past body + len;
 * keeps no pointer but mp's own (body, parts). */
enum gwmultipart_err gwmultipart_parse(struct gwmultipart *mp, const unsigned char *body, size_t len,
				       const char *boundary, struct gwmultipart_part *parts, size_t cap);

/* A sentence on err, for a log line or a refusal's message (static). */
const char *gwmultipart_strerror(enum gwmultipart_err err);

/* The part whose name is name exactly (case-sensitive, as the providers
 * read it), the first of an array's; NULL when there is none. The
 * pointer is into mp->parts. */
const struct gwmultipart_part *gwmultipart_find(const struct gwmultipart *mp, const char *name);

/* How many parts are named name exactly (an array's elements: "image[]"). */
size_t gwmultipart_count(const struct gwmultipart *mp, const char *name);

/* Whether part p's name is name exactly. */
int gwmultipart_is(const struct gwmultipart *mp, const struct gwmultipart_part *p, const char *name);

/* len bytes of the body at offset (a name, filename, type or data a part
 * gives) copied into out (cap bytes) with a NUL: 0; -1 (out "") when they
 * do not fit in cap - 1 or hold a NUL byte. */
int gwmultipart_copy(const struct gwmultipart *mp, size_t offset, size_t len, char *out, size_t cap);

/* A small text field (model, n, size, quality, response_format, prompt,
 * language, stream, ...) read as a string. */
enum gwmultipart_text {
	GWMULTIPART_TEXT_OK = 0,	/* out holds the value, as sent (not trimmed) */
	GWMULTIPART_TEXT_ABSENT,	/* no part of that name */
	GWMULTIPART_TEXT_TOO_LONG,	/* its value does not fit in cap - 1 bytes */
	GWMULTIPART_TEXT_NOT_TEXT	/* a file (a filename given), a Content-Type other than text/plain (with no
					 * charset, or UTF-8 or US-ASCII), or a NUL byte in the value */
};

/* The value of the text field name into out (cap bytes, NUL-terminated;
 * "" unless GWMULTIPART_TEXT_OK). */
enum gwmultipart_text gwmultipart_text(const struct gwmultipart *mp, const char *name, char *out, size_t cap);

#endif
