/* limits_gateway.h: the gateway's limits, each with its reason: a part of
 * limits.h (which includes it at its end, so every layer has them),
 * apart for its length. Include limits.h, not this file. */
#ifndef CREDITD_LIMITS_GATEWAY_H
#define CREDITD_LIMITS_GATEWAY_H
/* [gateway] max_streams' ceiling: a call in flight costs a slot on the
 * gateway's loop, a curl handle and its provider connection, and two
 * sockets; 8192 such stay well inside the 64k file descriptors a systemd
 * service gets. */
#define LIMIT_GATEWAY_STREAMS_MAX 8192
/* [gateway] max_buffered_mib's ceiling: whole answers held at once in all,
 * 64 GiB (past any machine creditd is sized for; the default is 256 MiB,
 * under the unit's MemoryMax). */
#define LIMIT_GATEWAY_BUFFERED_MIB_MAX 65536
/* An ending thread's stack (and the loop's): a call's deepest path
 * (jansson over an answer, a settle's JSON answer) stays under 64 KiB;
 * only the pages touched count in RSS, the rest is address space. */
#define LIMIT_GATEWAY_STACK_BYTES (256 * 1024)
/* The ledger connections gateway calls settle on, shared by the ending
 * threads, made as needed: not one a stream. Measured by ./dev bench
 * --gateway at 64 clients: with 8, 40-odd threads waited for one and the
 * gateway did 618-718 calls/s; with 32, 1,295-1,493 (64: no better). */
#define LIMIT_GATEWAY_LEDGERS 32
/* Threads that end calls (settle, then hand the rest to the loop, which
 * sends it: an ending thread never waits on a client). Twice the ledger
 * connections: the settles of one combiner's batch wait together on one
 * connection while the others take the next calls' settles; not measured
 * against LIMIT_GATEWAY_LEDGERS alone. */
#define LIMIT_GATEWAY_ENDERS (2 * LIMIT_GATEWAY_LEDGERS)
/* An ending thread's nice (raising it needs no privilege): settles and
 * whole answers yield the CPU to the loop passing every stream's events. */
#define LIMIT_GATEWAY_ENDER_NICE 5
/* A creditd on a database without migration 044 (no hold id key) looks
 * for the key again this often, so a migration made while it runs takes
 * hold within a minute (src/store/store_tx.c). */
#define LIMIT_HOLDID_RECHECK_MS 60000
/* The most web searches [gateway] max_tool_calls_held may hold a call
 * for when the request names no max: a fee each, held up front. */
#define LIMIT_GATEWAY_TOOL_CALLS_MAX 1000
/* How often the holds of calls in flight are looked at: each is renewed
 * by its ttl once half of it is gone (the ttl is ~16 min by default), so
 * a look every few seconds is far inside it and costs a scan of
 * max_streams places. */
#define LIMIT_GATEWAY_RENEW_CHECK_SECONDS 5
/* An idle ending thread ends after this long without a call. */
#define LIMIT_GATEWAY_IDLE_SECONDS 60
/* The gateway's loops (gateway.c): one a core, at most this many. A
 * loop is one thread carrying every byte of its calls (curl's reads, the
 * SSE scan, the FastCGI sends): at 1,000 streams of 50 events a second
 * one loop needs most of a core, and on a busy machine the scheduler
 * gives each runnable thread its share, so one loop fell behind (streams
 * stalled) while the provider alone kept up. Calls go to the loops in
 * turn. Past four, a loop's epoll and curl handle cost more than the
 * cores they could use beside nginx and MariaDB on the same host. */
#define LIMIT_GATEWAY_LOOPS 4
/* epoll events a loop takes at once: at 1,000 streams of 50 events a
 * second, a wait finds tens ready. */
#define LIMIT_GATEWAY_EVENTS 256
/* An answer framed and not yet sent to the web server: the loop holds a
 * stream's provider back as soon as its client takes less than was sent
 * (so a stream keeps at most one read of curl's, 16 KiB), but an ending
 * thread frames a whole answer at once. */
#define LIMIT_GATEWAY_PENDING_BYTES (LIMIT_GATEWAY_ANSWER_BYTES + 1024 * 1024)
/* curl handles kept for the next calls once theirs ended (each ~20 KiB
 * with its buffer once used), and the provider connections kept open
 * while idle (curl closes one idle for two minutes). */
#define LIMIT_PROVIDER_SPARE_HANDLES 64
#define LIMIT_PROVIDER_IDLE_CONNECTIONS 1024
/* Tries of a gateway call's settle while the database is away, a second
 * more apart each time (1 + 2 s): the provider's work is billed already,
 * and its hold would otherwise expire unspent. */
#define LIMIT_GATEWAY_SETTLE_TRIES 3
/* Random bytes of a gateway call's own request_id ("gw_" and hex): the
 * hold's key, never repeated. */
#define LIMIT_GATEWAY_REQUEST_RANDOM_BYTES 16
/* A provider key sent upstream (the deployment's, or a client's
 * Creditd-Provider-Key): OpenAI's and Anthropic's are ~100-200 bytes. */
#define LIMIT_PROVIDER_KEY_BYTES 512
/* One forwarded client header's value (anthropic-version, anthropic-beta,
 * OpenAI-Beta): a few comma-separated feature names. */
#define LIMIT_GATEWAY_HEADER_BYTES 512
/* A node of a table of what the gateway forwards (gwtable.h), as a walk
 * builds it: the longest in the tables is under 200 bytes; a name a body
 * makes longer (an enum's value, a variant's) is one no row has. */
#define LIMIT_GATEWAY_TABLE_NODE_BYTES 512
/* A refused member's path as a refusal names it ("input[3].content[0].type"):
 * cut past this, it still names where the member is. */
#define LIMIT_GATEWAY_PARAM_BYTES 256
/* Entries of one free_fields key ([gateway], [provider NAME]): a walk
 * compares a member it does not know with each, so they stay few. */
#define LIMIT_GATEWAY_FREE_FIELDS 64
/* The client's headers one provider kind forwards upstream (gwkind.h:
 * anthropic-version and anthropic-beta, the most today), and all kinds'
 * together (the request keeps each, read once by the worker). */
#define LIMIT_GATEWAY_KIND_FORWARDED 4
#define LIMIT_GATEWAY_FORWARDED 8
/* Providers one gateway call may try ([gateway] max_attempts's most):
 * each try is a failure before the first byte the client waits out
 * (up to first_byte_timeout_seconds each), so a few. */
#define LIMIT_GATEWAY_ATTEMPTS_MAX 10
/* A provider's fallbacks are logged once in this many seconds (one that is
 * down fails every call; the metric counts each). */
#define LIMIT_GATEWAY_FALLBACK_LOG_SECONDS 10
/* [gateway] slowest_tokens_per_second: a whole answer's first-byte
 * timeout grows by its output cap at this rate (docs/gateway.md, "When a
 * provider may already be working"). At least 5: below it a cap of
 * 128,000 tokens would be waited for over 7 hours, longer than any web
 * server's read timeout is sanely set; at most 1,000: no provider
 * generates a long answer faster, and a rate above the real one cuts
 * live calls into unresolved holds. */
#define LIMIT_GATEWAY_SLOWEST_TPS_MIN 5
#define LIMIT_GATEWAY_SLOWEST_TPS_MAX 1000
/* [gateway] unresolved_days: how long an unresolved hold waits for the
 * operator before the sweep charges its input bound. At least a day (the
 * providers' usage reports lag by hours); at most 90 (they keep their
 * per-minute usage about that long, and a reserve kept longer only
 * blocks the account's money). */
#define LIMIT_GATEWAY_UNRESOLVED_DAYS_MAX 90
/* A running batch is polled every [gateway] batch_poll_seconds, at most
 * an hour apart: a batch's results are kept by the provider for 30 days
 * (OpenAI's output files; Anthropic's results 29 days), and the hold
 * lives LIMIT_GATEWAY_BATCH_HOLD_SECONDS past each poll. */
#define LIMIT_GATEWAY_BATCH_POLL_SECONDS_MAX 3600
_Static_assert(LIMIT_GATEWAY_BATCH_POLL_SECONDS_MAX * 4 <= LIMIT_HOLD_TTL_MAX_SECONDS,
	       "a batch's hold outlives several of its polls");
/* Header lines sent upstream beyond the kind's own: a provider's
 * configured headers ([provider NAME] headers). */
#define LIMIT_GATEWAY_PROVIDER_HEADERS 16
/* The provider's URL: a configured base and a fixed path, or an object
 * route's path (an id, percent-encoded) and query. */
#define LIMIT_GATEWAY_URL_BYTES 2048
/* An object route's query as sent upstream (docs/gateway.md, "Provider
 * objects"), and one of its values decoded: every "include[]" OpenAI
 * names (about ten of ~40 bytes), a cursor, a limit and an order take a
 * few hundred bytes; a query past these is refused, naming it. */
#define LIMIT_GATEWAY_QUERY_BYTES 1024
#define LIMIT_GATEWAY_QUERY_VALUE_BYTES 256
/* A provider object's id kept (docs/gateway.md, "Provider objects";
 * a Responses id for previous_response_id), with its NUL: OpenAI's are "resp_" and ~50 hex
 * digits; a longer one is not kept (the call still settles), so naming it
 * later is refused. */
#define LIMIT_GATEWAY_RESPONSE_ID_BYTES 128
/* How long a kept response id may be named: OpenAI keeps a stored
 * response 30 days; `creditctl purge` forgets older ids. */
#define LIMIT_GATEWAY_RESPONSE_DAYS 30
/* Background runs (docs/gateway.md, "Background responses"). A webhook's
 * timestamp is taken within 5 minutes of now either way, as OpenAI's SDKs
 * take it (their tolerance's default). A secret's key is at most 256
 * bytes (OpenAI's are 32), its text at most 512. */
#define LIMIT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS 300
#define LIMIT_GATEWAY_WEBHOOK_KEY_BYTES 256
#define LIMIT_GATEWAY_WEBHOOK_SECRET_BYTES 512
/* A webhook's body: an event names one object by id (~300 bytes). */
#define LIMIT_GATEWAY_WEBHOOK_BODY_BYTES (64 * 1024)
/* The runs one poll round looks at; more wait for the next round (a
 * second later). */
#define LIMIT_GATEWAY_BACKGROUND_BATCH 64
/* A running run's hold lives this long past each poll (renewed every
 * poll, so never captured while its run lives): longer than the longest
 * wait between two polls, with room for a poll that fails. */
#define LIMIT_GATEWAY_BACKGROUND_HOLD_SECONDS 3600
/* The longest wait between two polls [gateway] background_poll_max_seconds may set. */
#define LIMIT_GATEWAY_BACKGROUND_POLL_MAX_SECONDS 900
_Static_assert(LIMIT_GATEWAY_BACKGROUND_POLL_MAX_SECONDS * 2 < LIMIT_GATEWAY_BACKGROUND_HOLD_SECONDS,
	       "a run's hold outlives two polls' wait");
/* A run the provider has not ended after this long is given up: its
 * hold is kept unresolved for the operator (OpenAI's background runs
 * end within hours; a run it forgot would otherwise be polled forever). */
#define LIMIT_GATEWAY_BACKGROUND_DAYS 3
/* A poll's GET of a run is given this long to answer (a first byte, and
 * between bytes): a round polls its runs one after another, and the
 * provider's own first_byte_timeout_seconds (minutes, for a model's
 * first token) would let one silent provider hold every other run's
 * poll. A response object is answered at once, never generated. */
#define LIMIT_GATEWAY_BACKGROUND_POLL_TIMEOUT_SECONDS 20
/* A run claimed for a poll is not due to another poller for this long
 * (two creditd, or creditctl sweep, share the list): longer than a
 * poll's GET and its settle take; a poller that dies mid-poll leaves
 * the run to the next after it. */
#define LIMIT_GATEWAY_BACKGROUND_LEASE_SECONDS 120
_Static_assert(LIMIT_GATEWAY_BACKGROUND_POLL_TIMEOUT_SECONDS * 3 < LIMIT_GATEWAY_BACKGROUND_LEASE_SECONDS,
	       "a claim outlives its poll");
/* A poll's GET answer kept whole (a response object with its output). */
#define LIMIT_GATEWAY_BACKGROUND_ANSWER_BYTES (16 * 1024 * 1024)
/* The headers of one provider answer kept to pass some on: the providers
 * send ~30 lines, ~2 KiB. Lines past either limit are dropped. */
#define LIMIT_PROVIDER_HEADERS 64
#define LIMIT_PROVIDER_HEADER_BYTES (16 * 1024)
/* A whole (not streamed) answer is held until it is settled: a chat
 * answer is a few KiB; embeddings of 2,048 inputs of 3,072 floats as
 * JSON reach ~100 MiB, and are asked base64 (a quarter) by the SDKs. A
 * larger answer is charged as estimated and answered 502. */
#define LIMIT_GATEWAY_ANSWER_BYTES (64 * 1024 * 1024)
/* The gateway routes' request body (a conversation with its images,
 * base64): the providers take up to ~32 MiB; bodies are held only while
 * their call runs ([gateway] max_body_bytes, 8 MiB by default). */
#define LIMIT_GATEWAY_BODY_MAX_BYTES (64 * 1024 * 1024)
/* The upload routes' own body limit (docs/gateway.md, "Request bodies"):
 * audio/transcriptions takes a file of at most 25 MB (OpenAI's
 * speech-to-text guide, "File uploads are currently limited to 25 MB";
 * its Audio API FAQ says 25 MiB), read as 25 MiB, nginx's `25m`, so that
 * the shipped snippets and creditd agree to the byte; images/edits is
 * given the same (OpenAI documents no total for it: each image under
 * 50 MB, 16 at most, dall-e-2's under 4 MB). A body past [gateway]
 * max_body_bytes is kept on disk, not in memory (spool.h). */
#define LIMIT_GATEWAY_UPLOAD_BODY_BYTES (25 * 1024 * 1024)
/* The batch `files` route's limit: OpenAI's Batch API takes an input
 * file of up to 200 MB (read line by line where it lies, on disk). */
#define LIMIT_GATEWAY_FILES_BODY_BYTES (200 * 1000 * 1000)
/* Anthropic's Message Batches create, whose requests come in its body:
 * Anthropic takes up to 256 MB, but creditd parses the body whole as
 * JSON in a worker's memory (jansson's tree is several times the text),
 * so it takes what the upload routes take (25 MiB, their snippet and
 * Apache rule): a larger batch is split by the client. */
#define LIMIT_GATEWAY_BATCH_CREATE_BODY_BYTES LIMIT_GATEWAY_UPLOAD_BODY_BYTES
/* The lines of one batch (docs/gateway.md, "Batches"): OpenAI takes
 * 50,000 requests a batch, Anthropic 100,000; each line is checked and
 * held when the batch is made, and settled once when it ends. */
#define LIMIT_GATEWAY_BATCH_LINES 100000
/* A line's custom_id: Anthropic's are 1 to 64 characters; OpenAI
 * documents none, and the SDKs' examples use short ones. 512 bytes is
 * past both and keeps the per-line request id (a hash of it) fixed. */
#define LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES 512
/* Anthropic's custom_id, as its reference gives it: ^[a-zA-Z0-9_-]{1,64}$
 * (docs/gateway.md, "Batches"); checked before anything is held or
 * forwarded rather than refused by the provider after the hold. */
#define LIMIT_GATEWAY_ANTHROPIC_CUSTOM_ID_CHARS 64
_Static_assert(LIMIT_GATEWAY_ANTHROPIC_CUSTOM_ID_CHARS < LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES,
	       "an Anthropic custom_id fits a line's");
/* A page of a batch list, as the references bound limit: OpenAI's list
 * of batches 1 to 100, Anthropic's of message batches 1 to 1000 (each
 * answer kept at most LIMIT_GATEWAY_BATCH_ANSWER_BYTES, read from
 * creditd's records); 20 when none is given, as both default. */
#define LIMIT_GATEWAY_BATCH_LIST_OPENAI_MAX 100
#define LIMIT_GATEWAY_BATCH_LIST_ANTHROPIC_MAX 1000
#define LIMIT_GATEWAY_BATCH_LIST_DEFAULT 20
/* The Host a batch's results_url is made of (the request's own, as the
 * client sent it): a host name of at most 253 characters, a port. */
#define LIMIT_GATEWAY_HOST_BYTES 300
/* Lines settled in one pass before the job's progress is written
 * (docs/gateway.md, "Batches": chunks of at most 1,000 lines): each line
 * is its own idempotent charge, so a crash mid-chunk only settles that
 * chunk's lines again, which replay. */
#define LIMIT_GATEWAY_BATCH_CHUNK_LINES 1000
/* The succeeded lines a settling pass counts once each (gwbatch_seen: a
 * table at most half full, 32 bytes and a flag a slot, 8.5 MiB at most):
 * a power of two past twice a batch's lines, so every line of a batch
 * fits; a results file naming more distinct lines than that is not a
 * batch's, and its extra lines are kept unresolved. */
#define LIMIT_GATEWAY_BATCH_SEEN_SLOTS (1 << 18)
_Static_assert(LIMIT_GATEWAY_BATCH_SEEN_SLOTS / 2 >= LIMIT_GATEWAY_BATCH_LINES,
	       "a batch's every line is counted");
/* A batch's output (and error) file as fetched to be settled: a
 * 100,000-line batch of long answers; kept on disk ([gateway] spool_dir)
 * while it is read, never in memory whole. */
#define LIMIT_GATEWAY_BATCH_RESULT_BYTES ((int64_t)2 * 1024 * 1024 * 1024)
/* Batches a job pass polls at most, and how long a provider's answer to
 * a poll or a download may take before the pass moves on (the job is
 * polled again at its next time). */
#define LIMIT_GATEWAY_BATCH_JOBS_A_PASS 64
#define LIMIT_GATEWAY_BATCH_FETCH_SECONDS 600
/* The hold of a batch lives a hold's longest ttl and is renewed that
 * long by each poll (at most an hour apart), so that the sweep never
 * captures it while its job runs (docs/gateway.md, "Batches"). */
#define LIMIT_GATEWAY_BATCH_HOLD_SECONDS LIMIT_HOLD_TTL_MAX_SECONDS
/* A batch job not done this long after its create is ended as
 * abandoned, its hold kept unresolved for the operator (docs/gateway.md,
 * "Batches"): a provider removed, a route no longer served, a batch its
 * provider forgot, a line never chargeable would otherwise keep its hold
 * for ever. 7 days: a batch's completion window is 24 hours (OpenAI;
 * Anthropic's expire at 24 hours too), and its results are kept well
 * beyond 7 days (OpenAI's output files 30 days, Anthropic's results 29
 * days from creation), so a job that could still settle is never ended. */
#define LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS (7 * 86400)
/* A provider's batch object as creditd keeps it (GET, the list): ~1 KiB,
 * with up to 16 metadata pairs of 64-character keys and 512-character
 * values. */
#define LIMIT_GATEWAY_BATCH_ANSWER_BYTES (64 * 1024)
/* A job taken for a pass (ledger_gw_job_claim) is not taken by another
 * creditd for this many of its polls ([gateway] batch_poll_seconds),
 * renewed by each chunk settled: a creditd that died mid-pass leaves its
 * job to the next that finds it due then. A pass that outlives it may
 * meet another on the same job: each line's charge replays, so neither
 * charges a line twice. */
#define LIMIT_GATEWAY_BATCH_LEASE_POLLS 10
/* Anthropic's results of a batch passed on through creditd (GET
 * .../results), held in memory while they are: 64 MiB is ~30,000 long
 * answers; a larger batch's results are read from the provider itself
 * (the job settles them from disk whatever their size). */
#define LIMIT_GATEWAY_BATCH_RESULTS_ANSWER_BYTES (64 * 1024 * 1024)
/* The job thread looks for jobs due at least this often (a job's own
 * time is its poll's, [gateway] batch_poll_seconds). */
#define LIMIT_GATEWAY_BATCH_TICK_SECONDS 5
/* A body kept on disk is read from the web server and written to its
 * file this much at a time: a few system calls a megabyte, and a buffer
 * that fits any thread's stack budget when it is on the heap. */
#define LIMIT_GATEWAY_SPOOL_CHUNK_BYTES (256 * 1024)
/* [gateway] max_buffered_per_account_mib (docs/gateway.md, "Fair share"): one
 * account's whole answers held at once (its default in gwconfig.c's
 * table, checked equal here by test_gwbuffer). Its default, 64 MiB, is one
 * answer of the most creditd passes on whole (LIMIT_GATEWAY_ANSWER_BYTES),
 * so any call an account makes alone can be held, and a quarter of
 * max_buffered_mib's default, so one account's unread answers leave three
 * quarters to the others; it is also 64 calls (max_streams_per_account's
 * default) of a 16,384-token cap at LIMIT_GATEWAY_TOKEN_BYTES. Its range
 * is max_buffered_mib's; past max_buffered_mib it is max_buffered_mib. */
#define LIMIT_GATEWAY_BUFFERED_PER_ACCOUNT_MIB_DEFAULT 64
/* The room a whole answer reserves at admission (gwbuffer_bound): a fixed
 * part, the request's bytes (Responses echoes its instructions, tools and
 * metadata) and LIMIT_GATEWAY_TOKEN_BYTES per output token it may write
 * (its cap × choices). A token is 4 bytes of text on average in the
 * providers' tokenizers and rarely past 16; written once as JSON text an
 * escape spells a byte in up to 6 (\u0001), and Chat's logprobs write
 * each token again: 64 bytes a token is past all but logprobs' top 20
 * alternatives. The fixed part is an answer's envelope (ids, usage, a
 * choice's members: under 1 KiB each, 128 choices at most) and the CGI
 * head. An answer that outgrows its room is still held while the budget
 * in all has room (gwbuffer.h). */
#define LIMIT_GATEWAY_TOKEN_BYTES 64
#define LIMIT_GATEWAY_ANSWER_OVERHEAD_BYTES (192 * 1024)
/* Embeddings' answer: a vector an input, each number at most 24 bytes as
 * JSON text ("-0.0012345678901234567,", base64 is 5.4), OpenAI's largest
 * model 3,072 numbers; a body's own dimensions at most 65,536. */
#define LIMIT_GATEWAY_EMBEDDING_NUMBER_BYTES 24
#define LIMIT_GATEWAY_EMBEDDING_DIMENSIONS 3072
#define LIMIT_GATEWAY_EMBEDDING_DIMENSIONS_MAX 65536
/* Speech (docs/gateway.md, "Audio and speech"): OpenAI's reference caps
 * audio/speech's "input" at 4,096 characters; creditd counts them as
 * Unicode code points (what the provider's "characters" are, and what it
 * bills tts-1 by), and refuses more before anything is held. */
#define LIMIT_GATEWAY_SPEECH_CHARS_MAX 4096
/* A form's Content-Type, sent upstream as the client sent it (its
 * boundary is the body's): "multipart/form-data; boundary=" and at most 70
 * characters (RFC 2046), with room for a charset parameter. */
#define LIMIT_GATEWAY_CONTENT_TYPE_BYTES 256
/* A speech model priced by audio tokens (gpt-4o-mini-tts) bills the audio
 * it writes, and the answer whole (not streamed) reports no usage: the
 * hold bounds it from the input's characters. OpenAI bills audio output
 * at 20 tokens a second (docs/gateway.md, "The estimate"); read aloud at
 * the slowest speed the reference allows (0.25), a Latin character takes
 * about 0.27 s (15 a second at 1.0) and a CJK one about 1 s (4 a second):
 * 1 s a character is the worst rate, 20 tokens a character. Audio past it
 * (instructions asking long pauses) is charged as reported and flagged
 * over_hold; a whole answer is charged the hold. */
#define LIMIT_GATEWAY_SPEECH_AUDIO_TOKENS_PER_CHAR 20
/* The lowest bitrate, in bits a second, of each audio format OpenAI's
 * transcription takes (docs/gateway.md, "Audio and speech"): a file's
 * bytes at its format's lowest bitrate are the most seconds it can hold,
 * the bound whisper-1 (priced by the second) is held at. Each is the
 * lowest rate of the codecs the format carries that the provider's
 * decoder (FFmpeg) reads:
 * - mp3, mpeg, mpga: MPEG Layer III's lowest table bitrate, 8 kbit/s
 *   (MPEG-2 LSF, ISO/IEC 13818-3, and MPEG 2.5);
 * - mp4, m4a: AMR-NB's lowest mode in an MP4 (3GPP TS 26.071), 4.75 kbit/s,
 *   below AAC's ~8;
 * - ogg: Speex's narrowband lowest mode, 2.15 kbit/s (below Opus's 6 and
 *   Vorbis's ~45);
 * - webm: Opus's lowest, 6 kbit/s (RFC 6716; WebM carries Opus or Vorbis);
 * - wav: G.723.1's 5.3 kbit/s in a RIFF WAVE (below PCM's 64 at 8 kHz
 *   8-bit, GSM 6.10's 13 and IMA ADPCM's 32);
 * - flac: lossless, with no rate of its own: a frame of a single constant
 *   value (silence) is ~10 bytes for up to 4,608 samples at 8 kHz (the
 *   blocking most encoders use), 140 bit/s.
 * A stream that goes lower (Opus's DTX or FLAC's constant frames over
 * long silence) holds more seconds than its bytes say: charged as the
 * answer reports them (json's usage.seconds, verbose_json's duration),
 * flagged over_hold; text, srt and vtt answers report none and are
 * charged the bound. A format not in the table is refused. */
#define LIMIT_GATEWAY_AUDIO_BITRATES(X) \
	X("flac", 140) X("mp3", 8000) X("mp4", 4750) X("mpeg", 8000) X("mpga", 8000) X("m4a", 4750) \
	X("ogg", 2150) X("wav", 5300) X("webm", 6000)
/* A document page's text in the hold (docs/gateway.md, "Documents are
 * held by their pages"): the providers bill each PDF page as an image
 * (LIMIT_GATEWAY_IMAGE_TOKENS) plus the text read from it; Anthropic
 * documents 1,500-3,000 tokens of text a typical page. A page of 6-point
 * Latin text (~150 characters a line, ~100 lines: 15,000 characters, at
 * about 4 a token ~3,750 tokens) or of 9-point CJK (~3,000 characters at
 * up to 1.5 tokens each, ~4,500) fits under 6,400 with room, twice
 * Anthropic's dense page. A page whose text is made smaller still (a
 * PDF can print text at any size) passes it: the cap at the model's
 * max_input_tokens, the context the provider reads at most, is then the
 * bound. */
#define LIMIT_GATEWAY_PAGE_TEXT_TOKENS 6400
#define LIMIT_GATEWAY_PAGE_TOKENS (LIMIT_GATEWAY_IMAGE_TOKENS + LIMIT_GATEWAY_PAGE_TEXT_TOKENS)
/* The page-tree references one PDF may list and still be counted
 * (gwpdf.c keeps each to find a node listed twice: 40 bytes each, 4 MB
 * at most). More pages than any provider takes in one request (100 to
 * 600), and more than LIMIT_TOKENS_MAX at LIMIT_GATEWAY_PAGE_TOKENS a
 * page: a PDF with more is held at max_input_tokens, as an uncountable one. */
#define LIMIT_GATEWAY_PDF_PAGES 100000
/* ---- The image routes (docs/gateway.md, "Images") ---- */
/* The most images one call asks ("n"): OpenAI's reference allows 1 to 10
 * on images/generations and images/edits (dall-e-3: 1, gwkind_images.c). */
#define LIMIT_GATEWAY_IMAGES_N 10
/* The output tokens of one GPT image model's image (gpt-image-1, -mini,
 * -1.5, chatgpt-image-latest), by quality (low, medium, high) and size
 * (1024x1024, 1024x1536, 1536x1024), as OpenAI publishes them
 * (developers.openai.com/api/docs/guides/image-generation, "Cost and
 * latency": the image's output tokens by quality and size). The hold of
 * a call priced by image tokens is n images at the dearest asked; the
 * charge is the answer's usage. A size or model outside the table is
 * refused: its tokens are not bounded. */
#define LIMIT_GATEWAY_GPT_IMAGE_TOKENS {{272, 408, 400}, {1056, 1584, 1568}, {4160, 6240, 6208}}
/* An input image (or mask) of images/edits on a model priced by image
 * tokens: its tokens are not read from the file (creditd reads no image
 * header: no parser of untrusted image bytes), but bounded as the largest
 * the model bills: an image's vision tokens (LIMIT_GATEWAY_IMAGE_TOKENS,
 * above what either provider bills an image) and as many again for high
 * input fidelity (input_fidelity "high" adds tokens a picture; 6,400 is
 * above the most any image of the table above takes). */
#define LIMIT_GATEWAY_IMAGE_EDIT_TOKENS (2 * LIMIT_GATEWAY_IMAGE_TOKENS)
/* The input images of one images/edits call: OpenAI's reference takes up
 * to 16 (and a mask). */
#define LIMIT_GATEWAY_IMAGE_EDIT_FILES 17
/* The bytes one image of a whole images answer may take (gwbuffer_bound's
 * room): a 1536x1024 PNG with alpha is at most ~6.3 MB raw, ~8.4 MB as
 * base64 in b64_json; a url answer is far less. */
#define LIMIT_GATEWAY_IMAGE_ANSWER_BYTES (9 * 1024 * 1024)
/* A multipart/form-data body's parts (gwmultipart.h; docs/gateway.md,
 * "Multipart bodies"): OpenAI's largest form, images/edits, has about 17
 * fields and up to 16 images (image[]); a transcription about 15 fields
 * with up to 4 known speakers and 4 of their samples. 64 holds any of
 * them twice over, and keeps the duplicate check (each name against the
 * ones before it) and the caller's array of parts (64 * 80 bytes) small. */
#define LIMIT_GATEWAY_MULTIPART_PARTS 64
/* One part's header block, its blank line included: the SDKs and curl
 * write ~100-300 bytes (Content-Disposition with a name and a filename,
 * Content-Type); a filename of 255 UTF-8 bytes percent-escaped throughout
 * is 765. 8 KiB is past any of those and bounds the scan for its end. */
#define LIMIT_GATEWAY_MULTIPART_HEADER_BYTES (8 * 1024)
/* A part's name: the providers' longest is "known_speaker_references[]"
 * (26 characters); a longer one is no field any route knows. */
#define LIMIT_GATEWAY_MULTIPART_NAME_BYTES 128
/* A form's text field (a prompt, a language): OpenAI takes a prompt of
 * 32,000 characters at most, 128 KiB of UTF-8; a longer one is refused
 * before it is copied (a 25 MiB upload's text fields would otherwise be
 * copied whole, twice). */
#define LIMIT_GATEWAY_MULTIPART_TEXT_BYTES (128 * 1024)
/* A key's name, for the keys of api_keys the gateway's among them
 * (creditctl key create --name; an end user's gateway key names 1 to 64
 * bytes): a label an operator reads in key list. api_keys.name is
 * VARCHAR(128) of utf8mb4, so 128 bytes of UTF-8 always fit, and a longer
 * one is refused before the database would. */
#define LIMIT_KEY_NAME_BYTES 128
#endif
