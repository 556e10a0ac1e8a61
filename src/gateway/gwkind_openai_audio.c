/* gwkind_openai_audio.c: OpenAI's audio routes as the OpenAI kind reads
 * them (docs/gateway.md, "Audio and speech"): what a speech request asks
 * (its characters, its instructions, an SSE stream), the usage of a
 * transcription's answer (tokens, or a duration) and of the audio
 * streams' events (speech.audio.done, transcript.text.done), and what a
 * whole answer that is no JSON (speech's audio bytes, a transcription in
 * text, srt or vtt) is charged. The request and answer shapes follow
 * OpenAI's API reference (platform.openai.com/docs/api-reference/audio)
 * as the openai npm SDK's types spell them (resources/audio/speech.ts,
 * transcriptions.ts).
 *
 * Never: does I/O, reads the clock or touches the ledger; charges a
 * figure nobody stated: a usage that is not one is no usage, and the call
 * is charged what was held for it. */
#include "gwkind.h"
#include "gwkind_int.h"
#include "gwmultipart.h"
#include "jsonio.h"
#include "limits.h"
#include "pricing_audio.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- which route ---------------------------------------------------------- */

int gwkind_media(const struct gwkind_route *r)
{
	static const struct {
		const char *name;
		int media;
	} audio[] = {{"gw_openai_speech", GW_MEDIA_SPEECH}, {"gw_openai_transcriptions", GW_MEDIA_TRANSCRIPTION},
		     {"gw_openai_moderations", GW_MEDIA_MODERATION}};
	for (size_t i = 0; r != NULL && strcmp(r->kind->name, "openai") == 0 && i < sizeof(audio) / sizeof(audio[0]); i++)
		if (strcmp(r->metrics_name, audio[i].name) == 0)
			return audio[i].media;
	return GW_MEDIA_NONE;
}

const char *gwkind_default_model(const struct gwkind_route *r)
{
	/* OpenAI's reference: "model" optional, omni-moderation-latest by default. */
	return gwkind_media(r) == GW_MEDIA_MODERATION ? "omni-moderation-latest" : NULL;
}

/* ---- what a request asks ------------------------------------------------- */

/* The Unicode code points of a string jansson read (valid UTF-8): its
 * bytes that do not continue a sequence. */
static int64_t code_points(const json_t *v)
{
	const unsigned char *p = (const unsigned char *)json_string_value(v);
	size_t n = json_string_length(v);
	int64_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += (p[i] & 0xC0) != 0x80;
	return count;
}

/* audio/speech's "voice" (required: a voice's name, or {"id": a custom
 * voice's}) and "speed" (a number from 0.25 to 4.0), as the pinned
 * openai SDK's SpeechCreateParams spell them: a call the provider would
 * refuse is refused before anything is held (docs/gateway.md, "Audio and
 * speech"). 0, or -1 through gwkind_refuse. */
static int read_voice_speed(const struct gwkind_route *r, const json_t *root, struct gwkind_refusal *rf)
{
	const json_t *voice = gwkind_member(r, root, "voice"), *speed = gwkind_member(r, root, "speed");
	const json_t *id = json_is_object(voice) ? json_object_get(voice, "id") : NULL;
	if (!(json_is_string(voice) && json_string_length(voice) > 0) && !(json_is_string(id) && json_string_length(id) > 0))
		return gwkind_refuse(rf, "voice", "\"voice\" must name the voice: a string (\"alloy\", ...) or "
				     "{\"id\": a custom voice's id}");
	if (speed != NULL && !(json_is_number(speed) && json_number_value(speed) >= 0.25 && json_number_value(speed) <= 4.0))
		return gwkind_refuse(rf, "speed", "\"speed\" must be a number from 0.25 to 4.0");
	return 0;
}

/* audio/speech: "input" (at most LIMIT_GATEWAY_SPEECH_CHARS_MAX code
 * points), "instructions", "stream_format" ("sse": the answer is a stream
 * of events; "audio", the default: audio bytes, read whole). */
static int read_speech(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf)
{
	const json_t *in = gwkind_member(r, root, "input"), *ins = gwkind_member(r, root, "instructions");
	const json_t *sf = gwkind_member(r, root, "stream_format"), *rfmt = gwkind_member(r, root, "response_format");
	if (!json_is_string(in))
		return gwkind_refuse(rf, "input", "\"input\" must be the text to speak (a string)");
	ask->speech_chars = code_points(in);
	if (ask->speech_chars > LIMIT_GATEWAY_SPEECH_CHARS_MAX)
		return gwkind_refuse(rf, "input", "\"input\" is %lld characters: the provider takes at most %d",
				     (long long)ask->speech_chars, LIMIT_GATEWAY_SPEECH_CHARS_MAX);
	if (ins != NULL && !json_is_string(ins))
		return gwkind_refuse(rf, "instructions", "\"instructions\" must be a string");
	if (read_voice_speed(r, root, rf) != 0)
		return -1;
	ask->speech_instructions = ins != NULL && json_string_length(ins) > 0 ? "instructions" : NULL;
	if (sf != NULL && !gwkind_str_is(sf, "sse") && !gwkind_str_is(sf, "audio"))
		return gwkind_refuse(rf, "stream_format", "\"stream_format\" must be \"sse\" or \"audio\"");
	ask->stream = gwkind_str_is(sf, "sse");
	if (json_is_string(rfmt))
		snprintf(ask->response_format, sizeof(ask->response_format), "%s", json_string_value(rfmt));
	return 0;
}

int gwkind_audio_read(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf)
{
	ask->audio_format = -1;
	if (gwkind_media(r) == GW_MEDIA_SPEECH)
		return read_speech(r, root, ask, rf);
	return 0;	/* moderations: nothing beyond the model and the table */
}

/* ---- a transcription's form (multipart/form-data) ------------------------ */

/* The parts of body, read by gwmultipart (docs/gateway.md, "Multipart
 * bodies"): 0, or -1 through gwkind_refuse. */
static int form_parse(const char *content_type, const char *body, size_t len, struct gwmultipart *mp,
		      struct gwmultipart_part *parts, struct gwkind_refusal *rf)
{
	char boundary[GWMULTIPART_BOUNDARY_BYTES];
	enum gwmultipart_err why = GWMULTIPART_OK;
	if (content_type == NULL || gwmultipart_boundary(content_type, boundary, sizeof(boundary), &why) < 0)
		return gwkind_refuse(rf, NULL, "the body must be multipart/form-data with a boundary: %s",
				     gwmultipart_strerror(why != GWMULTIPART_OK ? why : GWMULTIPART_E_TYPE));
	why = gwmultipart_parse(mp, (const unsigned char *)body, len, boundary, parts, LIMIT_GATEWAY_MULTIPART_PARTS);
	if (why != GWMULTIPART_OK)
		return gwkind_refuse(rf, NULL, "the form cannot be read as the provider would read it: %s",
				     gwmultipart_strerror(why));
	return 0;
}

/* Sets name's place in o (the SDK's form writes "x[]" for an array's
 * element and "a[b]" for a member of an object) to v (taken). 0, or -1
 * when the name is none the SDK writes (the table then refuses it). */
static int form_put(json_t *o, const char *name, json_t *v)
{
	char key[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1];
	const char *open = strchr(name, '[');
	size_t n = open != NULL ? (size_t)(open - name) : strlen(name);
	if (n == 0 || n >= sizeof(key) || v == NULL) {
		json_decref(v);
		return -1;
	}
	memcpy(key, name, n);
	key[n] = '\0';
	/* A plain name after "x[k]" or "x[]" would hide them from the table's
	 * walk while both are forwarded: refused, as a field given twice. */
	if (open == NULL)
		return json_object_get(o, key) != NULL ? (json_decref(v), -1) : json_object_set_new(o, key, v);
	const char *close = strchr(open, ']');
	json_t *inner = json_object_get(o, key);
	if (close == NULL || close[1] != '\0') {	/* one level of brackets: all the SDK's forms use */
		json_decref(v);
		return -1;
	}
	if (close == open + 1) {	/* "x[]": an array's element */
		if (inner == NULL && json_object_set_new(o, key, inner = json_array()) != 0)
			inner = NULL;
		return json_is_array(inner) ? json_array_append_new(inner, v) : (json_decref(v), -1);
	}
	if (inner == NULL && json_object_set_new(o, key, inner = json_object()) != 0)
		inner = NULL;
	char member[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1];
	snprintf(member, sizeof(member), "%.*s", (int)(close - open - 1), open + 1);
	return json_is_object(inner) ? json_object_set_new(inner, member, v) : (json_decref(v), -1);
}

/* The form's fields as the JSON object the SDK wrote them from, for the
 * route's table (a file's value ""): a new reference, or NULL (with a
 * refusal) when a field is no text or no name the SDK writes. */
static json_t *form_object(const struct gwmultipart *mp, struct gwkind_refusal *rf)
{
	json_t *o = json_object();
	char name[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1];
	for (size_t i = 0; o != NULL && i < mp->n; i++) {
		const struct gwmultipart_part *p = &mp->parts[i];
		gwmultipart_copy(mp, p->name_offset, p->name_len, name, sizeof(name));
		if (!p->has_filename && p->data_len > LIMIT_GATEWAY_MULTIPART_TEXT_BYTES) {
			json_decref(o);
			gwkind_refuse(rf, name, "the field \"%s\" is longer than %d bytes", name,
				      LIMIT_GATEWAY_MULTIPART_TEXT_BYTES);
			return NULL;
		}
		json_t *v = p->has_filename ? json_string("")
			    : json_stringn((const char *)mp->body + p->data_offset, p->data_len);
		if (v == NULL || form_put(o, name, v) != 0) {
			json_decref(o);
			gwkind_refuse(rf, name, "the field \"%s\" is no text the provider reads as one (not UTF-8, or a "
				      "name no form of the SDK's writes)", name);
			return NULL;
		}
	}
	return o;
}

/* The file's format from its name's extension (docs/gateway.md, "Audio
 * and speech"): its place in the bitrate table, -1 when none. */
/* The container a file's first bytes name: its magic number, as the
 * decoders read it (ID3 or an MPEG frame sync, an ISO BMFF "ftyp" box,
 * OggS, EBML, RIFF WAVE, fLaC); NULL for none of them. */
static const char *container_of(const unsigned char *d, size_t n)
{
	if (n >= 4 && memcmp(d, "fLaC", 4) == 0)
		return "flac";
	if ((n >= 3 && memcmp(d, "ID3", 3) == 0) || (n >= 2 && d[0] == 0xFF && (d[1] & 0xE0) == 0xE0))
		return "mp3";
	if (n >= 8 && memcmp(d + 4, "ftyp", 4) == 0)
		return "mp4";
	if (n >= 4 && memcmp(d, "OggS", 4) == 0)
		return "ogg";
	if (n >= 4 && d[0] == 0x1A && d[1] == 0x45 && d[2] == 0xDF && d[3] == 0xA3)
		return "webm";
	if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WAVE", 4) == 0)
		return "wav";
	return NULL;
}

/* The container an extension names (mpeg and mpga are MP3's, m4a MP4's). */
static const char *container_named(const char *ext)
{
	static const char *const alias[][2] = {{"mp3", "mp3"}, {"mpeg", "mp3"}, {"mpga", "mp3"}, {"mp4", "mp4"},
					       {"m4a", "mp4"}, {"ogg", "ogg"}, {"webm", "webm"}, {"wav", "wav"},
					       {"flac", "flac"}};
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcasecmp(ext, alias[i][0]) == 0)
			return alias[i][1];
	return NULL;
}

/* 1 when a container that may carry FLAC (Ogg, MP4, Matroska/WebM)
 * carries it: its stream's mark anywhere in the file (a false mark only
 * raises the hold). */
static int carries_flac(const char *c, const unsigned char *d, size_t n)
{
	const char *mark = strcmp(c, "ogg") == 0 ? "\x7f" "FLAC" : strcmp(c, "mp4") == 0 ? "fLaC"
			   : strcmp(c, "webm") == 0 ? "A_FLAC" : NULL;
	return mark != NULL && memmem(d, n, mark, strlen(mark)) != NULL;
}

/* The file's format (docs/gateway.md, "Audio and speech"): its name's
 * extension, held to the container its bytes name (a FLAC file named
 * .mp3 would be held at MP3's floor, a fiftieth of its length), and a
 * container carrying FLAC at FLAC's floor. Its place in the bitrate
 * table, -1 when none (refused). */
static int file_format(const struct gwmultipart *mp, const struct gwmultipart_part *file)
{
	char fname[256], *dot;
	int64_t bps;
	int index = -1;
	if (gwmultipart_copy(mp, file->filename_offset, file->filename_len, fname, sizeof(fname)) != 0 ||
	    (dot = strrchr(fname, '.')) == NULL || !pricing_audio_format(dot + 1, &bps, &index))
		return -1;
	const unsigned char *d = mp->body + file->data_offset;
	const char *named = container_named(dot + 1), *is = container_of(d, file->data_len);
	if (named == NULL || is == NULL || strcmp(named, is) != 0)
		return -1;
	if (carries_flac(is, d, file->data_len) && !pricing_audio_format("flac", &bps, &index))
		return -1;
	return index;
}

json_t *gwkind_audio_form_json(const char *content_type, const char *body, size_t len)
{
	struct gwmultipart mp;
	struct gwmultipart_part parts[LIMIT_GATEWAY_MULTIPART_PARTS];
	char err[256];
	const char *param;
	struct gwkind_refusal rf = {err, sizeof(err), &param};
	return form_parse(content_type, body, len, &mp, parts, &rf) == 0 ? form_object(&mp, &rf) : NULL;
}

/* 1 when f is a transcription's response format: the pinned openai SDK's
 * AudioResponseFormat (resources/audio/audio.ts). Another is refused: it
 * would be charged as an answer without usage, the bound held. */
static int transcription_format(const char *f)
{
	static const char *const formats[] = {"json", "text", "srt", "verbose_json", "vtt", "diarized_json"};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(f, formats[i]) == 0)
			return 1;
	return 0;
}

/* A transcription's "temperature": a number from 0 to 1 (the reference's
 * "between 0 and 1"), written as text in the form. 0, or -1 through
 * gwkind_refuse. */
static int form_temperature(const struct gwmultipart *mp, struct gwkind_refusal *rf)
{
	char text[32], *end = NULL;
	enum gwmultipart_text t = gwmultipart_text(mp, "temperature", text, sizeof(text));
	double v = 0;
	if (t == GWMULTIPART_TEXT_ABSENT)
		return 0;
	if (t == GWMULTIPART_TEXT_OK && text[0] != '\0' && strchr("0123456789.-+", text[0]) != NULL)
		v = strtod(text, &end);
	if (end == NULL || end == text || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return gwkind_refuse(rf, "temperature", "\"temperature\" must be a number from 0 to 1");
	return 0;
}

/* The form's own members: its file (its bytes and format), its model, its
 * response_format. 0, or -1 through gwkind_refuse. */
static int form_members(const struct gwmultipart *mp, struct gw_ask *ask, struct gwkind_refusal *rf)
{
	const struct gwmultipart_part *file = gwmultipart_find(mp, "file");
	enum gwmultipart_text t = gwmultipart_text(mp, "model", ask->model, sizeof(ask->model));
	if (file == NULL || !file->has_filename)
		return gwkind_refuse(rf, "file", "\"file\" must be the audio file, sent as a file with its name");
	if (t != GWMULTIPART_TEXT_OK || jsonio_check_text(ask->model, strlen(ask->model), 1, LIMIT_NAME_BYTES) != 0) {
		ask->model[0] = '\0';
		return gwkind_refuse(rf, "model", "\"model\" must be a text field of 1 to %d bytes naming the model",
				     LIMIT_NAME_BYTES);
	}
	ask->audio_file_bytes = (int64_t)file->data_len;
	ask->audio_format = file_format(mp, file);
	t = gwmultipart_text(mp, "response_format", ask->response_format, sizeof(ask->response_format));
	if ((t != GWMULTIPART_TEXT_OK && t != GWMULTIPART_TEXT_ABSENT) ||
	    (t == GWMULTIPART_TEXT_OK && !transcription_format(ask->response_format)))
		return gwkind_refuse(rf, "response_format", "\"response_format\" must be one of json, text, srt, "
				     "verbose_json, vtt, diarized_json");
	if (form_temperature(mp, rf) != 0)
		return -1;
	/* A stream is not taken (docs/gateway.md, "Audio and speech"):
	 * whisper-1 ignores it and answers whole, which would be read as a
	 * stream without usage. Anything but "false" may read as true. */
	char stream[8];
	t = gwmultipart_text(mp, "stream", stream, sizeof(stream));
	if (t != GWMULTIPART_TEXT_ABSENT && (t != GWMULTIPART_TEXT_OK || strcmp(stream, "false") != 0))
		return gwkind_refuse(rf, "stream", "\"stream\" is not taken on this route: a transcription is answered "
				     "whole (send none, or \"false\")");
	return 0;
}

int gwkind_audio_read_form(const struct gwkind_route *r, const char *content_type, const char *body, size_t len,
			   struct gw_ask *ask, char *err, size_t errcap, const char **param)
{
	struct gwkind_refusal rf = {err, errcap, param};
	struct gwmultipart mp;
	struct gwmultipart_part parts[LIMIT_GATEWAY_MULTIPART_PARTS];
	memset(ask, 0, sizeof(*ask));
	ask->output_cap = -1;
	ask->choices = 1;
	ask->audio_format = -1;
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (param != NULL)
		*param = NULL;
	(void)r;
	if (form_parse(content_type, body, len, &mp, parts, &rf) != 0 || form_members(&mp, ask, &rf) != 0)
		return -1;
	json_t *o = form_object(&mp, &rf);	/* every field text the SDK writes (the table walks it: api_gateway) */
	json_decref(o);
	return o != NULL ? 0 : -1;
}

/* ---- usage --------------------------------------------------------------- */

int gwkind_audio_duration_ms(double seconds, int64_t *ms)
{
	if (seconds != seconds || seconds < 0 || seconds > (double)PRICING_AUDIO_MS_MAX / 1000)
		return -1;	/* NaN, below 0, or past any call's */
	/* 3.52 s is 3,520 ms, though 3.52 × 1000 is 3520.0000000000005 in
	 * binary: a thousandth of a millisecond above a whole one is taken as
	 * its binary error, not a part of a millisecond; a part is rounded up. */
	double x = seconds * 1000;
	int64_t whole = (int64_t)x;	/* x in 0..10^12: the cast truncates, the floor */
	*ms = whole + (x - (double)whole > 1e-3 ? 1 : 0);
	return 0;
}

/* A duration in seconds (a JSON number) as milliseconds into *ms: 1, or 0
 * when v is none or not one. */
static int duration_of(const json_t *v, int64_t *ms)
{
	return json_is_number(v) && gwkind_audio_duration_ms(json_number_value(v), ms) == 0;
}

/* The usage object of speech's speech.audio.done and a transcription's
 * answer or transcript.text.done: {"type": "tokens", input_tokens,
 * input_token_details {audio_tokens, text_tokens}, output_tokens,
 * total_tokens} (speech's has no type), or {"type": "duration",
 * seconds}. have 0 when it is neither. */
static void read_usage(const struct gwkind_route *r, const json_t *usage, struct gw_usage *u)
{
	static const char *const top[] = {"input_tokens", "output_tokens", "total_tokens", NULL};
	static const char *const in_known[] = {"audio_tokens", "text_tokens", NULL};
	static const char *const out_known[] = {NULL};
	static const struct gwkind_usage_names names = {top, "input_token_details", "output_token_details", in_known,
							out_known};
	int64_t in = 0, out = 0, total = 0, audio = -1, text = -1, ms = 0;
	const json_t *d = json_object_get(usage, "input_token_details");
	memset(u, 0, sizeof(*u));
	if (gwkind_str_is(json_object_get(usage, "type"), "duration")) {
		u->have = duration_of(json_object_get(usage, "seconds"), &ms);
		u->audio_ms = ms;
		return;
	}
	if (gwkind_count_of(json_object_get(usage, "input_tokens"), &in) != 1 ||
	    gwkind_count_of(json_object_get(usage, "output_tokens"), &out) != 1 ||
	    gwkind_count_of(json_object_get(usage, "total_tokens"), &total) < 0 ||
	    gwkind_count_of(json_object_get(d, "audio_tokens"), &audio) < 0 ||
	    gwkind_count_of(json_object_get(d, "text_tokens"), &text) < 0)
		return;
	u->have = 1;
	u->input_tokens = in;
	u->output_tokens = out;
	u->total_tokens = total;
	gwkind_usage_unknown(usage, &names, u);
	/* A total above its parts: the difference is output, as on the
	 * other routes (docs/gateway.md, "The estimate"). */
	if (total > in + out + u->unknown_tokens)
		u->output_tokens = gwkind_clamp_tokens(total - in - u->unknown_tokens);
	if (gwkind_media(r) == GW_MEDIA_SPEECH) {
		u->audio_output_tokens = u->output_tokens;	/* speech writes audio alone */
	} else {
		/* A transcription reads audio (and a prompt's text): the
		 * input not said to be text is audio, the dearer. */
		int64_t a = audio >= 0 ? audio : text >= 0 && text <= in ? in - text : in;
		u->audio_input_tokens = a < in ? a : in;
	}
}

void gwkind_audio_usage(const struct gwkind_route *r, const json_t *root, struct gw_usage *u)
{
	const json_t *usage = json_object_get(root, "usage");
	int64_t ms = 0;
	if (json_is_object(usage))
		read_usage(r, usage, u);
	/* verbose_json's own duration, where no usage said one. */
	if (!u->have && gwkind_media(r) == GW_MEDIA_TRANSCRIPTION && duration_of(json_object_get(root, "duration"), &ms)) {
		memset(u, 0, sizeof(*u));
		u->have = 1;
		u->audio_ms = ms;
	}
}

/* ---- streams ------------------------------------------------------------- */

void gwkind_audio_event(struct gw_stream *s, const char *type, const json_t *root)
{
	const json_t *usage = json_object_get(root, "usage");
	if (strcmp(type, "error") == 0) {
		s->error = 1;
	} else if (strcmp(type, "speech.audio.delta") == 0) {
		gwkind_count_audio(s, json_object_get(root, "audio"));
	} else if (strcmp(type, "transcript.text.delta") == 0) {
		gwkind_count_text(s, json_object_get(root, "delta"));
	} else if (strcmp(type, "speech.audio.done") == 0 || strcmp(type, "transcript.text.done") == 0) {
		s->done = 1;
		if (json_is_object(usage)) {
			struct gw_usage u;
			read_usage(s->route, usage, &u);
			gwkind_keep_extras(&u, &s->usage);
			s->usage = u;
		}
	}
}

/* ---- a whole answer ------------------------------------------------------ */

/* n digits at *p as a number, *p moved past them; -1 when fewer. */
static int64_t digits(const char **p, const char *end, int n)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* The latest end of a cue ("--> HH:MM:SS,mmm" in srt, "--> HH:MM:SS.mmm"
 * or "--> MM:SS.mmm" in vtt) in a transcription's text, in ms; 0 when it
 * names none (text, json). */
static int64_t cues_end_ms(const char *body, size_t len)
{
	const char *end = body + len, *p = body;
	int64_t last = 0;
	while (p != NULL && p < end && (p = memmem(p, (size_t)(end - p), "-->", 3)) != NULL) {
		p += 3;
		while (p < end && *p == ' ')
			p++;
		const char *q = p;
		int64_t a = digits(&q, end, 2), b = -1, c = -1, ms = -1;
		if (a >= 0 && q < end && *q == ':' && (q++, b = digits(&q, end, 2)) >= 0 && q < end && *q == ':') {
			q++;
			c = digits(&q, end, 2);
		} else if (b >= 0) {	/* vtt's MM:SS: no hours */
			c = b, b = a, a = 0;
		}
		if (c >= 0 && q < end && (*q == ',' || *q == '.') && (q++, ms = digits(&q, end, 3)) >= 0) {
			int64_t at = ((a * 60 + b) * 60 + c) * 1000 + ms;
			last = at > last ? at : last;
		}
	}
	return last;
}

int gwkind_audio_whole(const struct gwkind_route *r, const struct gw_ask *ask, const char *body, size_t len,
		       struct gw_usage *u, int *estimated)
{
	json_error_t jerr;
	memset(u, 0, sizeof(*u));
	*estimated = 0;
	if (gwkind_media(r) != GW_MEDIA_SPEECH && gwkind_media(r) != GW_MEDIA_TRANSCRIPTION)
		return -1;
	if (gwkind_media(r) == GW_MEDIA_TRANSCRIPTION) {
		/* json and verbose_json: the usage or duration it reports. */
		json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
		if (json_is_object(root))
			gwkind_audio_usage(r, root, u);
		json_decref(root);
		/* Each pricing takes its own figure: seconds a duration, tokens
		 * a token usage; the other is none. */
		/* A row by seconds takes a duration alone (a token usage of
		 * zeros is no length); a row by tokens some tokens. */
		int seconds = u->audio_ms > 0, tokens = u->input_tokens > 0 || u->output_tokens > 0;
		if (u->have && (ask->media_priced == GW_AUDIO_BY_SECONDS ? seconds : tokens && !seconds))
			return 0;
		memset(u, 0, sizeof(*u));
	}
	/* Speech by characters is billed the characters sent; a
	 * transcription by seconds reporting none (text, srt, vtt) the
	 * bound held. By tokens without usage: the caller's estimate, the
	 * hold. */
	if (ask->media_priced == GW_AUDIO_BY_CHARS) {
		u->have = 1;
		u->speech_chars = ask->speech_chars;
		return 0;
	}
	if (ask->media_priced == GW_AUDIO_BY_SECONDS) {
		/* srt and vtt say where their last cue ends: at least that
		 * long, past the bound too (charged and flagged). */
		int64_t cues = cues_end_ms(body, len);
		u->have = 1;
		u->audio_ms = cues > ask->media_bound ? cues : ask->media_bound;
		*estimated = 1;
		return 0;
	}
	return -1;
}
