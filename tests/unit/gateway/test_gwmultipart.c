/* test_gwmultipart.c: unit tests for src/gateway/gwmultipart.c, the
 * multipart/form-data reader of the gateway's upload routes (docs/
 * gateway.md, "Multipart bodies").
 *
 * Owns the checks of: the boundary a Content-Type gives; bodies the
 * official SDKs and curl sent (captured from openai-node 6.49.0, httpx
 * 0.23.3 as the Python SDK calls it, and curl 7.88.1 -F, kept as the fuzz
 * target's seeds in tests/fuzz/seeds/multipart/: a Content-Type line, LF,
 * the body; one written by hand as .NET's MultipartFormDataContent
 * writes); the edges (the boundary's text inside data, data ending with
 * CR or CRLF, padding after the close, an epilogue, LF-only bodies); what
 * is refused (a part with no name, a name spelt twice, a field given
 * twice, header folding, too many parts, headers too long); every prefix
 * of a body read from a buffer of its exact size (ASan, as ./dev sanitize
 * builds it, sees a read past it); and a body read from a mapped file. No
 * network, no clock. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gwmultipart.h"
#include "limits.h"
#include "tap.h"

#define BD "b0undary"
#define D "--" BD "\r\n"
#define CLOSE "--" BD "--\r\n"
#define CD(name) "Content-Disposition: form-data; name=\"" name "\"\r\n"
#define FIELD(name, value) D CD(name) "\r\n" value "\r\n"

static struct gwmultipart_part parts[LIMIT_GATEWAY_MULTIPART_PARTS];
static struct gwmultipart mp;
static unsigned char *held;

/* The n bytes of s parsed from a buffer of exactly n bytes (kept until
 * the next parse, so the parts can be read). */
static enum gwmultipart_err parse_n(const void *s, size_t n, const char *boundary)
{
	free(held);
	held = malloc(n > 0 ? n : 1);
	if (held == NULL)
		abort();
	memcpy(held, s, n);
	return gwmultipart_parse(&mp, held, n, boundary, parts, LIMIT_GATEWAY_MULTIPART_PARTS);
}

static enum gwmultipart_err parse(const char *s)
{
	return parse_n(s, strlen(s), BD);
}

/* The text of field name ("" when it is not text), into a static buffer. */
static const char *text(const char *name)
{
	static char out[256];

	(void)gwmultipart_text(&mp, name, out, sizeof out);
	return out;
}

/* Part i's name, filename, type or data as a string. */
static const char *str(size_t offset, size_t len)
{
	static char out[1024];

	if (gwmultipart_copy(&mp, offset, len, out, sizeof out) != 0)
		return "(not a string)";
	return out;
}

static void test_boundary(void)
{
	char b[GWMULTIPART_BOUNDARY_BYTES], small[4];
	char b70[128], b71[128];
	enum gwmultipart_err why;

	is_int(gwmultipart_boundary("multipart/form-data; boundary=----formdata-undici-049826451263", b, sizeof b, &why), 32,
	       "undici's boundary");
	is_str(b, "----formdata-undici-049826451263", "its text");
	is_int(gwmultipart_boundary("multipart/form-data; boundary=\"a b:c=d\"", b, sizeof b, NULL), 7, "quoted, with a space and RFC 2046's specials");
	is_str(b, "a b:c=d", "its text");
	is_int(gwmultipart_boundary("Multipart/Form-Data; CHARSET=utf-8; BoUnDaRy=xyz", b, sizeof b, NULL), 3,
	       "type and parameter names case-insensitive, charset skipped");
	is_str(b, "xyz", "its text");
	is_int(gwmultipart_boundary(" multipart/form-data ;charset=\"utf-8; x\";boundary=q;", b, sizeof b, NULL), 1,
	       "spaces, a quoted ';' in another parameter and a trailing ';' tolerated");
	memset(b70, 'a', 70);
	memcpy(b71, "multipart/form-data; boundary=", 30);
	memcpy(b71 + 30, b70, 70);
	b71[100] = '\0';
	is_int(gwmultipart_boundary(b71, b, sizeof b, NULL), 70, "70 characters: RFC 2046's most");
	b71[100] = 'a';
	b71[101] = '\0';
	is_int(gwmultipart_boundary(b71, b, sizeof b, &why), -1, "71 refused");
	is_int(why, GWMULTIPART_E_BOUNDARY, "as a boundary");
	is_str(b, "", "out emptied");
	is_int(gwmultipart_boundary("multipart/form-data; boundary=abcdef", small, sizeof small, &why), -1, "out too small");
	is_int(why, GWMULTIPART_E_BOUNDARY, "as a boundary");
	struct {
		const char *ct;
		enum gwmultipart_err why;
		const char *what;
	} bad[] = {
		{ NULL, GWMULTIPART_E_TYPE, "no Content-Type" },
		{ "application/json", GWMULTIPART_E_TYPE, "JSON" },
		{ "multipart/mixed; boundary=x", GWMULTIPART_E_TYPE, "multipart/mixed" },
		{ "multipart/form-datax; boundary=x", GWMULTIPART_E_TYPE, "a longer type" },
		{ "multipart/form-data", GWMULTIPART_E_BOUNDARY, "no boundary" },
		{ "multipart/form-data; charset=utf-8", GWMULTIPART_E_BOUNDARY, "no boundary but a charset" },
		{ "multipart/form-data; boundary=", GWMULTIPART_E_BOUNDARY, "an empty boundary" },
		{ "multipart/form-data; boundary=\"\"", GWMULTIPART_E_BOUNDARY, "an empty quoted boundary" },
		{ "multipart/form-data; boundary=a; boundary=b", GWMULTIPART_E_BOUNDARY, "two boundaries" },
		{ "multipart/form-data; boundary*=utf-8''a", GWMULTIPART_E_BOUNDARY, "boundary*" },
		{ "multipart/form-data; boundary=\"ab \"", GWMULTIPART_E_BOUNDARY, "ending with a space" },
		{ "multipart/form-data; boundary=a@b", GWMULTIPART_E_BOUNDARY, "'@' (not in bchars)" },
		{ "multipart/form-data; boundary=\"a\\\"b\"", GWMULTIPART_E_BOUNDARY, "a backslash" },
		{ "multipart/form-data; charset=\"x\\\"; boundary=y\"", GWMULTIPART_E_TYPE, "a backslash in another parameter" },
		{ "multipart/form-data; boundary=\"abc", GWMULTIPART_E_BOUNDARY, "an unclosed quote" },
		{ "multipart/form-data boundary=a", GWMULTIPART_E_TYPE, "no ';'" },
		{ "multipart/form-data; boundary = a", GWMULTIPART_E_TYPE, "spaces around '='" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = GWMULTIPART_OK;
		ok(gwmultipart_boundary(bad[i].ct, b, sizeof b, &why) == -1 && why == bad[i].why, "refused: %s (%s)",
		   bad[i].what, gwmultipart_strerror(bad[i].why));
	}
}

/* A seed: its Content-Type line read for the boundary, its body parsed. */
static enum gwmultipart_err parse_seed(const char *name, char *boundary)
{
	char path[512], buf[8192];
	FILE *f;
	size_t n;
	char *lf;

	snprintf(path, sizeof path, "%s/tests/fuzz/seeds/multipart/%s", TOP_SRCDIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return (enum gwmultipart_err)-1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	lf = memchr(buf, '\n', n);
	if (lf == NULL)
		return (enum gwmultipart_err)-1;
	*lf = '\0';
	if (gwmultipart_boundary(buf, boundary, GWMULTIPART_BOUNDARY_BYTES, NULL) < 0)
		return (enum gwmultipart_err)-1;
	return parse_n(lf + 1, n - (size_t)(lf + 1 - buf), boundary);
}

static void test_node(void)
{
	static const unsigned char audio[] = "ID3\x03\0\0\0\0\0\0\r\n--not-the-boundary\r\n\r\n\0\x01\x02\xff\r";
	const struct gwmultipart_part *p;
	char b[GWMULTIPART_BOUNDARY_BYTES];
	enum gwmultipart_text t;
	char out[16];

	is_int(parse_seed("node_transcription", b), GWMULTIPART_OK, "openai-node's transcription (undici's FormData)");
	is_int(mp.n, 8, "8 parts");
	p = gwmultipart_find(&mp, "file");
	ok(p != NULL && p->has_filename && p->has_type, "the file, with a filename and a type");
	is_str(str(p->filename_offset, p->filename_len), "speech %22one%22.mp3", "its filename as sent (%%22 undecoded)");
	is_str(str(p->type_offset, p->type_len), "audio/mpeg", "its type");
	ok(p->data_len == sizeof audio - 1 && memcmp(held + p->data_offset, audio, sizeof audio - 1) == 0,
	   "its data whole: the CRLF, the dashes, the NULs and the CR it ends with");
	is_int(gwmultipart_text(&mp, "file", out, sizeof out), GWMULTIPART_TEXT_NOT_TEXT, "a file is not a text field");
	is_str(text("model"), "whisper-1", "model");
	is_str(text("language"), "en", "language");
	is_str(text("prompt"), "Names: Zo\xc3\xab, \xc3\x85\x64ne", "prompt, UTF-8");
	is_str(text("response_format"), "verbose_json", "response_format");
	is_str(text("temperature"), "0", "temperature");
	is_str(text("timestamp_granularities[]"), "word", "an array's first element");
	is_str(str(mp.parts[7].data_offset, mp.parts[7].data_len), "segment", "and its second, a part of its own");
	t = gwmultipart_text(&mp, "model", out, 9);
	ok(t == GWMULTIPART_TEXT_TOO_LONG && out[0] == '\0', "a value past the cap: too long, out empty");
	is_int(gwmultipart_text(&mp, "model", out, 10), GWMULTIPART_TEXT_OK, "one that fits with its NUL");
	is_int(gwmultipart_text(&mp, "n", out, sizeof out), GWMULTIPART_TEXT_ABSENT, "a field not sent: absent");

	is_int(parse_seed("node_image_edit", b), GWMULTIPART_OK, "openai-node's images.edit with two images");
	ok(mp.n == 7 && gwmultipart_is(&mp, &mp.parts[0], "image[]") && gwmultipart_is(&mp, &mp.parts[1], "image[]"),
	   "image[] twice: an array, not a duplicate");
	is_str(text("n"), "2", "n");
	is_str(text("size"), "1024x1024", "size");
	is_str(text("quality"), "high", "quality");
	is_int(parse_seed("node_image_edit_one", b), GWMULTIPART_OK, "one image and a mask");
	ok(gwmultipart_find(&mp, "mask") != NULL && gwmultipart_find(&mp, "mask")->has_filename, "the mask a file");
	is_str(text("response_format"), "b64_json", "response_format");
	is_int(parse_seed("node_file", b), GWMULTIPART_OK, "files.create with expires_after");
	is_str(text("expires_after[anchor]"), "created_at", "a nested object's member as its own field");
	is_int(parse_seed("node_transcription_stream", b), GWMULTIPART_OK, "openai-node's own writer (a stream uploaded)");
	is_str(text("chunking_strategy[type]"), "server_vad", "chunking_strategy[type]");
	is_str(text("stream"), "false", "stream");
}

static void test_python_curl(void)
{
	char b[GWMULTIPART_BOUNDARY_BYTES];
	const struct gwmultipart_part *p;

	is_int(parse_seed("python_transcription", b), GWMULTIPART_OK, "httpx's body (the Python SDK's encoder)");
	is_int(mp.n, 7, "7 parts, the file last");
	p = gwmultipart_find(&mp, "file");
	is_str(str(p->filename_offset, p->filename_len), "voice \\\\ memo%22.m4a", "a backslash httpx wrote as two, as sent");
	is_str(text("temperature"), "0.2", "temperature");
	is_int(parse_seed("python_image_edit", b), GWMULTIPART_OK, "httpx's images.edit");
	is_str(text("quality"), "low", "quality");
	is_int(parse_seed("curl_transcription", b), GWMULTIPART_OK, "curl -F");
	is_str(text("language"), "fr", "language");
	is_int(parse_seed("dotnet_transcription_by_hand", b), GWMULTIPART_OK,
	       "a body as .NET writes it (by hand): quoted boundary, filename*, typed string");
	is_str(str(mp.parts[0].filename_offset, mp.parts[0].filename_len), "my memo.mp3", "its filename");
	is_str(text("model"), "whisper-1", "its model");
	is_int(parse_seed("curl_image_edit", b), GWMULTIPART_OK, "curl -F with image[] twice");
	is_str(text("n"), "3", "n");
	is_str(text("size"), "1536x1024", "size");
}

static void test_edges(void)
{
	is_int(parse(FIELD("prompt", "a " BD " b --" "b0undar") CLOSE), GWMULTIPART_OK,
	       "the boundary without its dashes, and a part of it with them, inside data");
	is_str(text("prompt"), "a " BD " b --b0undar", "are data");
	is_int(parse(FIELD("prompt", "a --" BD " b") CLOSE), GWMULTIPART_E_DELIMITER,
	       "the boundary's text mid-line inside data (a delimiter to a reader splitting on it): refused");
	is_int(parse("junk--" BD "\r\n" CD("n") "\r\n9\r\n" FIELD("prompt", "p") CLOSE), GWMULTIPART_E_DELIMITER,
	       "the boundary's text mid-line in the preamble: refused");
	is_int(parse(FIELD("prompt", "a\r\n--" BD "x") CLOSE), GWMULTIPART_E_DELIMITER, "after CRLF, followed by more: refused");
	is_int(parse(FIELD("prompt", "a\n--" BD "\r\n") FIELD("model", "m") CLOSE), GWMULTIPART_E_DELIMITER,
	       "after a bare LF (a delimiter to a reader taking LF for CRLF): refused");
	is_int(parse(FIELD("f", "abc\r") CLOSE), GWMULTIPART_OK, "data ending with CR");
	is_int(mp.parts[0].data_len, 4, "keeps its CR");
	is_int(parse(FIELD("f", "abc\r\n") CLOSE), GWMULTIPART_OK, "data ending with CRLF");
	is_int(mp.parts[0].data_len, 5, "keeps its CRLF");
	is_int(parse(FIELD("f", "") CLOSE), GWMULTIPART_OK, "empty data");
	is_int(mp.parts[0].data_len, 0, "of length 0");
	is_int(parse(FIELD("f", "1") "--" BD "--"), GWMULTIPART_OK, "the close without CRLF");
	is_int(parse(FIELD("f", "1") "--" BD "-- \t \r\n"), GWMULTIPART_OK, "the close with transport padding");
	is_int(parse(FIELD("f", "1") "--" BD "--  "), GWMULTIPART_OK, "padding and no CRLF");
	is_int(parse(FIELD("f", "1") "--" BD "--\r\nan epilogue\r\n"), GWMULTIPART_OK, "an epilogue skipped");
	is_int(parse(FIELD("f", "1") "--" BD "--\r\n" FIELD("model", "x") CLOSE), GWMULTIPART_E_EPILOGUE,
	       "an epilogue holding the boundary again: refused");
	is_int(parse(FIELD("f", "1") "--" BD "-- x"), GWMULTIPART_E_DELIMITER, "text after the close's padding");
	is_int(parse(FIELD("f", "1") "--" BD " --\r\n"), GWMULTIPART_E_DELIMITER, "padding before the close's dashes");
	is_int(parse("a preamble\r\n--" BD "\r\n" CD("f") "\r\n1\r\n" CLOSE), GWMULTIPART_OK, "a preamble skipped");
	is_int(parse("--" BD " \t\r\n" CD("f") "\r\n1\r\n" CLOSE), GWMULTIPART_OK, "padding after a delimiter");
	is_int(parse("--" BD "\n" "Content-Disposition: form-data; name=\"f\"\n\n1\n--" BD "--\n"), GWMULTIPART_E_DELIMITER,
	       "an LF-only body: refused (RFC 7578 requires CRLF)");
	is_int(parse(D "Content-Disposition: form-data; name=\"f\"\n\n1\r\n" CLOSE), GWMULTIPART_E_HEADER,
	       "a bare LF in the headers");
	is_int(parse(FIELD("f", "1")), GWMULTIPART_E_TRUNCATED, "no close delimiter");
	is_int(parse(FIELD("f", "1") "--" BD), GWMULTIPART_E_TRUNCATED, "cut after the boundary");
	is_int(parse(FIELD("f", "1") "--" BD "-"), GWMULTIPART_E_TRUNCATED, "cut inside the close");
	is_int(parse("no delimiter here"), GWMULTIPART_E_NO_DELIMITER, "no delimiter");
	is_int(parse(CLOSE), GWMULTIPART_E_NO_PARTS, "the close alone");
	is_int(parse(""), GWMULTIPART_E_NO_DELIMITER, "an empty body");
	is_int(parse_n(D CD("f") "\r\n1\r\n" CLOSE, 0, ""), GWMULTIPART_E_BOUNDARY, "an empty boundary");
	is_int(parse(D CD("f") "--" BD "\r\n" CD("n") "\r\n9\r\n" CLOSE), GWMULTIPART_E_DELIMITER,
	       "a delimiter among a part's headers");
	is_int(parse(D CD("prompt") "\r\n--" BD "\r\n" CD("n") "\r\n9\r\n" CLOSE), GWMULTIPART_E_DELIMITER,
	       "a delimiter right after the headers' blank line (a part with no data to another reader)");
	is_int(parse(D D CD("f") "\r\n1\r\n" CLOSE), GWMULTIPART_E_DISPOSITION, "a part with no headers");
}

static void test_headers(void)
{
	is_int(parse(D "content-disposition: Form-Data; NAME=model\r\n\r\nm\r\n" CLOSE), GWMULTIPART_OK,
	       "header and parameter names case-insensitive, a token name");
	is_str(text("model"), "m", "read");
	is_int(parse(D "Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n\r\n" CLOSE), GWMULTIPART_OK,
	       "an empty filename");
	ok(mp.parts[0].has_filename && mp.parts[0].filename_len == 0, "given, empty");
	is_int(parse(D CD("f") "X-Other: kept out\r\nContent-Transfer-Encoding: binary\r\n\r\n1\r\n" CLOSE), GWMULTIPART_OK,
	       "another header ignored, an identity transfer encoding");
	/* As .NET's MultipartFormDataContent writes a file and a string. */
	is_int(parse(D "Content-Disposition: form-data; name=file; filename=\"my a.mp3\"; filename*=utf-8''my%20a.mp3\r\n"
		     "Content-Type: audio/mpeg\r\n\r\nID3\r\n" D "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Disposition: form-data; name=model\r\n\r\nwhisper-1\r\n" CLOSE), GWMULTIPART_OK,
	       ".NET's form: filename and the same filename*, a string part typed text/plain in UTF-8");
	is_str(str(parts[0].filename_offset, parts[0].filename_len), "my a.mp3", "the filename");
	is_str(text("model"), "whisper-1", "the string read as text");
	struct {
		const char *body;
		enum gwmultipart_err err;
		const char *what;
	} bad[] = {
		{ D "Content-Type: text/plain\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "no Content-Disposition" },
		{ D "Content-Disposition: form-data\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "no name" },
		{ D "Content-Disposition: form-data; filename=\"a\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "a filename, no name" },
		{ D "Content-Disposition: attachment; name=\"f\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "not form-data" },
		{ D CD("f") CD("g") "\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "Content-Disposition twice" },
		{ D "Content-Disposition: form-data; name=\"a\"; name=\"model\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "name twice" },
		{ D "Content-Disposition: form-data; name=\"f\"; filename=\"a\"; filename=\"b\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION,
		  "filename twice" },
		{ D "Content-Disposition: form-data; name=\"x\"; name*=utf-8''model\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "name*" },
		{ D "Content-Disposition: form-data; name=\"f\"; filename*=utf-8''a.mp3\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION,
		  "filename* alone" },
		{ D "Content-Disposition: form-data; name=f; filename=a.flac; filename*=utf-8''a.opus\r\n\r\n1\r\n" CLOSE,
		  GWMULTIPART_E_DISPOSITION, "filename* other than filename" },
		{ D "Content-Disposition: form-data; name=f; filename=a.mp3; filename*=\"utf-8''a.mp3\"\r\n\r\n1\r\n" CLOSE,
		  GWMULTIPART_E_DISPOSITION, "filename* quoted" },
		{ D "Content-Disposition: form-data; name=f; filename=a.mp3; filename*=utf-8''a.mp%3\r\n\r\n1\r\n" CLOSE,
		  GWMULTIPART_E_DISPOSITION, "filename* with a broken escape" },
		{ D "Content-Disposition: form-data; name=f; filename=\"=?utf-8?B?w6kubXAz?=\"; filename*=utf-8''%C3%A9.mp3\r\n\r\n1\r\n"
		  CLOSE, GWMULTIPART_E_DISPOSITION, "a non-ASCII name as .NET writes it (RFC 2047 and RFC 5987 differ as bytes)" },
		{ D "Content-Disposition: form-data; name=\"x\"; name*0=\"mo\"; name*1=\"del\"\r\n\r\n1\r\n" CLOSE,
		  GWMULTIPART_E_DISPOSITION, "RFC 2231 continuations of a name" },
		{ D "Content-Disposition: form-data; name=\"a\"; NAME=\"model\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION,
		  "name twice, in two cases" },
		{ D "Content-Disposition: form-data; name=\"f\"; filename=\"a\\\"; name=\"model\"\r\n\r\n1\r\n" CLOSE,
		  GWMULTIPART_E_DISPOSITION, "a lone backslash before a quote" },
		{ D "Content-Disposition: form-data; name=\"f\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "an unclosed quote" },
		{ D "Content-Disposition: form-data; name = \"f\"\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_DISPOSITION, "spaces around '='" },
		{ D CD("") "\r\n1\r\n" CLOSE, GWMULTIPART_E_NAME, "an empty name" },
		{ D CD("mo del") "\r\n1\r\n" CLOSE, GWMULTIPART_E_NAME, "a space in a name" },
		{ D CD("mod%65l") "\r\n1\r\n" CLOSE, GWMULTIPART_E_NAME, "a percent-escape in a name" },
		{ D CD("mo\\\\del") "\r\n1\r\n" CLOSE, GWMULTIPART_E_NAME, "a backslash in a name" },
		{ D CD("mod\xc3\xa9l") "\r\n1\r\n" CLOSE, GWMULTIPART_E_NAME, "a non-ASCII name" },
		{ D CD("f") "X-A: a\r\n b\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_HEADER, "a folded header" },
		{ D CD("f") "no colon\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_HEADER, "a line with no colon" },
		{ D CD("f") "Content-Type : text/plain\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_HEADER, "a space before the colon" },
		{ D CD("f") "Content-Type: a\r\nContent-Type: b\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_HEADER, "Content-Type twice" },
		{ D CD("f") "X: a\rb\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_HEADER, "a bare CR" },
		{ D CD("f") "Content-Transfer-Encoding: base64\r\n\r\nMQ==\r\n" CLOSE, GWMULTIPART_E_ENCODING, "base64" },
		{ D CD("f") "Content-Transfer-Encoding: quoted-printable\r\n\r\n1\r\n" CLOSE, GWMULTIPART_E_ENCODING, "quoted-printable" },
		{ D CD("f") "\r\n1", GWMULTIPART_E_TRUNCATED, "cut in the data" },
		{ D CD("f"), GWMULTIPART_E_TRUNCATED, "cut in the headers" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(parse(bad[i].body) == bad[i].err && mp.err_part == 0, "refused: %s (%s)", bad[i].what,
		   gwmultipart_strerror(bad[i].err));
}

static void test_duplicates(void)
{
	is_int(parse(FIELD("model", "a") FIELD("n", "1") FIELD("model", "b") CLOSE), GWMULTIPART_E_DUPLICATE, "model twice");
	is_int(mp.err_part, 2, "the second named");
	is_str(str(parts[2].name_offset, parts[2].name_len), "model", "with its name");
	is_int(mp.n, 2, "the parts before it read");
	is_int(parse(FIELD("image", "a") FIELD("image[]", "b") CLOSE), GWMULTIPART_E_DUPLICATE, "image and image[]");
	is_int(parse(FIELD("image[]", "a") FIELD("image", "b") CLOSE), GWMULTIPART_E_DUPLICATE, "image[] and image");
	is_int(parse(FIELD("image[]", "a") FIELD("image[]", "b") FIELD("image[]", "c") CLOSE), GWMULTIPART_OK,
	       "image[] three times: an array");
	is_int(gwmultipart_count(&mp, "image[]"), 3, "of three elements");
	is_int(gwmultipart_count(&mp, "image"), 0, "none named image");
	is_int(parse(FIELD("model", "a") FIELD("Model", "b") CLOSE), GWMULTIPART_OK, "names are case-sensitive");
}

/* count parts named f0, f1, ...; headers of extra bytes in the first. */
static char *many(size_t count, size_t extra)
{
	size_t cap = count * 80 + extra + 64, o = 0;
	char *s = malloc(cap);

	if (s == NULL)
		abort();
	for (size_t i = 0; i < count; i++) {
		o += (size_t)snprintf(s + o, cap - o, D CD("f%zu"), i);
		if (i == 0 && extra > 0) {
			memcpy(s + o, "X: ", 3);
			memset(s + o + 3, 'x', extra - 5);
			memcpy(s + o + extra - 2, "\r\n", 2);
			o += extra;
		}
		o += (size_t)snprintf(s + o, cap - o, "\r\nv\r\n");
	}
	snprintf(s + o, cap - o, CLOSE);
	return s;
}

static void test_limits(void)
{
	/* The first part's headers: its Content-Disposition line, the
	 * blank line and extra bytes of one more header. */
	size_t cd_line = strlen(CD("f0")), fill = LIMIT_GATEWAY_MULTIPART_HEADER_BYTES - cd_line - 2;
	char *s;

	s = many(LIMIT_GATEWAY_MULTIPART_PARTS, 0);
	is_int(parse(s), GWMULTIPART_OK, "LIMIT_GATEWAY_MULTIPART_PARTS parts");
	is_int(mp.n, LIMIT_GATEWAY_MULTIPART_PARTS, "all read");
	is_int(gwmultipart_parse(&mp, held, strlen(s), BD, parts, 3), GWMULTIPART_E_TOO_MANY_PARTS, "more than the caller's array");
	is_int(mp.err_part, 3, "the first past it named");
	free(s);
	s = many(LIMIT_GATEWAY_MULTIPART_PARTS + 1, 0);
	is_int(parse(s), GWMULTIPART_E_TOO_MANY_PARTS, "one more: refused");
	free(s);
	s = many(1, fill);
	is_int(parse(s), GWMULTIPART_OK, "headers of LIMIT_GATEWAY_MULTIPART_HEADER_BYTES");
	free(s);
	s = many(1, fill + 1);
	is_int(parse(s), GWMULTIPART_E_HEADER_TOO_LONG, "one byte more: refused");
	free(s);
	s = many(1, 1024 * 1024);
	is_int(parse(s), GWMULTIPART_E_HEADER_TOO_LONG, "a header of a MiB: refused");
	free(s);
}

static void test_text(void)
{
	char out[16];

	is_int(parse(D CD("a") "Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\nx\r\n" D CD("b")
		     "Content-Type: text/plain;charset=utf-16\r\n\r\nx\r\n" D CD("c") "Content-Type: application/json\r\n\r\n1\r\n"
		     CLOSE), GWMULTIPART_OK, "text fields of several types");
	is_int(gwmultipart_text(&mp, "a", out, sizeof out), GWMULTIPART_TEXT_OK, "text/plain in UTF-8: text");
	is_int(gwmultipart_text(&mp, "b", out, sizeof out), GWMULTIPART_TEXT_NOT_TEXT, "UTF-16: not read as text");
	is_int(gwmultipart_text(&mp, "c", out, sizeof out), GWMULTIPART_TEXT_NOT_TEXT, "application/json: not text");
	is_int(parse_n(FIELD("d", "a\0b") CLOSE, sizeof(FIELD("d", "a\0b") CLOSE) - 1, BD), GWMULTIPART_OK, "a NUL in a value");
	is_int(gwmultipart_text(&mp, "d", out, sizeof out), GWMULTIPART_TEXT_NOT_TEXT, "not text");
	is_int(gwmultipart_copy(&mp, mp.len, 1, out, sizeof out), -1, "a copy past the body refused");
	is_int(gwmultipart_copy(&mp, 0, 0, out, 0), -1, "a copy into nothing refused");
}

/* Every prefix of a body the SDK sent, from a buffer of its exact size:
 * never accepted before the close delimiter, never read past (ASan). */
static void test_prefixes(void)
{
	char b[GWMULTIPART_BOUNDARY_BYTES];
	unsigned char whole[2048];
	size_t n, close_end, early = 0, bad_offset = 0;

	if (parse_seed("node_transcription", b) != GWMULTIPART_OK) {
		ok(0, "seed read");
		return;
	}
	n = mp.len;
	memcpy(whole, held, n);
	close_end = n - 2;	/* the body ends "--" boundary "--" CRLF */
	for (size_t i = 0; i < n; i++) {
		enum gwmultipart_err err = parse_n(whole, i, b);

		if ((err == GWMULTIPART_OK) != (i == close_end))
			early++;
		if (err != GWMULTIPART_OK && mp.err_offset > i)
			bad_offset++;
	}
	is_int(early, 0, "of %zu prefixes only the one ending at the close is read", n);
	is_int(bad_offset, 0, "every error's offset inside its prefix");
}

/* The same body from a file mapped into memory (the route may stream a
 * large body to disk and map it). */
static void test_mapped(void)
{
	static const char body[] = FIELD("model", "whisper-1") D "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
				   "Content-Type: audio/wav\r\n\r\nRIFF....\r\n" CLOSE;
	char path[] = "/tmp/test_gwmultipart.XXXXXX", out[32];
	int fd = mkstemp(path);
	void *map;

	ok(fd >= 0 && write(fd, body, sizeof body - 1) == (ssize_t)(sizeof body - 1), "body written to a file");
	map = mmap(NULL, sizeof body - 1, PROT_READ, MAP_PRIVATE, fd, 0);
	ok(map != MAP_FAILED, "and mapped");
	is_int(gwmultipart_parse(&mp, map, sizeof body - 1, BD, parts, LIMIT_GATEWAY_MULTIPART_PARTS), GWMULTIPART_OK,
	       "read where it lies");
	is_int(gwmultipart_text(&mp, "model", out, sizeof out), GWMULTIPART_TEXT_OK, "a field");
	is_str(out, "whisper-1", "its value");
	is_int(gwmultipart_find(&mp, "file")->data_len, 8, "the file's length");
	munmap(map, sizeof body - 1);
	close(fd);
	unlink(path);
}

int main(void)
{
	test_boundary();
	test_node();
	test_python_curl();
	test_edges();
	test_headers();
	test_duplicates();
	test_limits();
	test_text();
	test_prefixes();
	test_mapped();
	free(held);
	return done_testing();
}
