/* limits.h: every limit creditd enforces, in one place, each with its
 * reason. Values that depend on each other are tied with _Static_assert. */
/* This file has the C library's name: with _FORTIFY_SOURCE (Debian's build flags), gcc's
 * syslimits.h can reach it through #include_next <limits.h> (src/ is on the include path). It then
 * passes the include on to the system's <limits.h>, outside the guard so it happens every time. */
#include_next <limits.h>
#ifndef CREDITD_LIMITS_H
#define CREDITD_LIMITS_H

/* Default request body cap (config server.max_body_bytes): API bodies are a
 * few hundred bytes; Stripe events are a few KiB. */
#define LIMIT_BODY_DEFAULT_BYTES (64 * 1024)
/* Hard ceiling for that config value: bounds per-thread buffers. */
#define LIMIT_BODY_MAX_BYTES (1024 * 1024)
/* The longest a request's body may take to arrive, counted from the request's start: nginx buffers
 * a body whole before it passes it on, so the largest allowed (LIMIT_BODY_MAX_BYTES) arrives in
 * milliseconds; only a client trickling through a web server that streams bodies (Apache) takes
 * longer, and it must not hold a worker thread. Past it the request is answered 408 and its
 * connection closed. Checked between reads, and each read waits at most the time left. */
#define LIMIT_BODY_READ_SECONDS 10
/* Past the body cap, creditd reads no more into memory; after its 413 it drops at most this much of
 * what is still in flight, so the web server may reuse the connection: more than the shipped nginx
 * snippet lets through (client_max_body_size 2m). A longer body's connection is closed instead. */
#define LIMIT_BODY_DRAIN_BYTES (4 * 1024 * 1024)
/* Nesting of request JSON: our bodies are flat; Stripe events are ~6 deep. */
#define LIMIT_JSON_DEPTH 32
/* External account and member ids (docs/api.md, "POST /v1/accounts"). */
#define LIMIT_ACCOUNT_ID_BYTES 128
/* Model, action, plan and other short names. */
#define LIMIT_NAME_BYTES 64
/* request_id, conversation_id and other opaque ids from apps (hold ids,
 * which creditd makes, have LIMIT_HOLD_ID_BYTES). */
#define LIMIT_REQUEST_ID_BYTES 128
/* Journal descriptions and reasons, in characters (as text columns count). */
#define LIMIT_DESCRIPTION_CHARS 500
/* Idempotency-Key header, as Stripe allows. */
#define LIMIT_IDEMPOTENCY_KEY_BYTES 255
/* URLs we pass to Stripe (success/cancel). */
#define LIMIT_URL_BYTES 2048
/* Request path below the base path; query string. */
#define LIMIT_PATH_BYTES 1024
/* A 405's Allow header: the methods of a path's routes, comma-separated;
 * all of HTTP's methods ("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
 * 43 bytes) fit. */
#define LIMIT_ALLOW_BYTES 64
/* Path segments a route pattern may capture with '*': our deepest route,
 * /v1/accounts/{id}/members/{member}, has two. */
#define LIMIT_PATH_PARAMS 2
/* Routes /metrics keeps counters for (the route table has about 80, the
 * console's and the operator's reads among them); the counters are a
 * static array, so this bounds it. */
#define LIMIT_METRICS_ROUTES 96
/* A route's name as it appears in a metrics label: short identifiers. */
#define LIMIT_METRICS_ROUTE_NAME_BYTES 32
/* What a route's lines in /metrics number: one per status creditd
 * answers (metrics.c lists them, 18 today) and one for a code outside
 * that list, and the duration histogram's buckets (14 bounds) with +Inf,
 * sum and count. metrics.c asserts its tables match these. */
#define METRICS_STATUS_SLOTS 18
#define METRICS_DURATION_BUCKETS 14
#define METRICS_LINES_PER_ROUTE ((METRICS_STATUS_SLOTS + 1) + (METRICS_DURATION_BUCKETS + 3) + 2)
/* The /metrics text: METRICS_LINES_PER_ROUTE lines per route, each under
 * 128 bytes, stay under 320 KiB at LIMIT_METRICS_ROUTES (about 40 KiB
 * with today's routes and statuses a route really answers); a text past
 * this is a bug, answered 500 rather than cut short. */
#define LIMIT_METRICS_TEXT_BYTES (512 * 1024)
/* Tables creditd_purged_rows_total has a line for (the sweeper purges
 * four: ledger.h LEDGER_PURGE_TABLES); counted in the slack of the text's
 * assertion below, a line under 96 bytes each. */
#define LIMIT_METRICS_PURGE_TABLES 8
/* Reasons creditd_tx_retries_total has a line for (the transaction loop
 * names eight: store.h enum store_retry); counted in the slack of the
 * text's assertion below, a line under 96 bytes each. */
#define LIMIT_METRICS_TX_REASONS 16
/* creditd_outbox_pending is counted by the background thread once a
 * sweep, in one index range read of events (state, next_attempt_at); a
 * backlog this deep is shown as this many, so the read stays bounded
 * however far a dead receiver lets the outbox grow (the alert on the
 * backlog fires long before). */
#define LIMIT_OUTBOX_COUNT_ROWS 1000000
/* Group commit (ledger_combine.h): guard writes that arrive while a
 * batch is running wait and go into the next one, at most this many per
 * batch. It bounds a batch's memory (its rows are fixed arrays of this
 * size) and its SQL text; with 64 clients and two combiners batches
 * average 16 (docs/performance.md), so it seldom binds. The /metrics
 * histogram's buckets end at 64. */
#define LIMIT_BATCH_OPS 32
_Static_assert(LIMIT_BATCH_OPS >= 1 && LIMIT_BATCH_OPS <= 64, "batch sizes fit the histogram's buckets");
/* Batches running at once, each on its own connection. Two keep the
 * database busy while one waits for its commit (one was 10 % slower at 16
 * clients, four slower at 16 and 64), and their row locks are taken in
 * one order (accounts by id ascending, then holds, then members), so they
 * cannot deadlock on each other. */
#define LIMIT_BATCH_COMBINERS 2
/* Passes of a transaction loop (store_tx) that brings accounts due: an
 * attempt that locks (or a guard batch's read that reads) an account
 * with something due ends, the accounts are brought due each in a
 * transaction of its own, and the attempt runs again. An operation may
 * lock two accounts, each met due in turn, and a clock that moves on may
 * make one due again: four passes, then the transaction fails, logged
 * (500; a batch's operations then run alone). */
#define LIMIT_TX_DUE_PASSES 4
/* The guard's rows kept in memory (ledger_rowcache.h): the accounts its
 * last batches wrote, with the version each write left, so that a batch
 * of accounts kept is decided without its read CALL (one round trip, not
 * two). Slots are taken by the account's id (a later account in the same
 * slot replaces the one there): 16,384 accounts of about 0.8 KiB each,
 * memory touched only as accounts come (13 MiB at the bench's 10,000
 * accounts). The holds of those accounts still pending, by hold id, for
 * their settles: more than the requests in flight at once (the worker
 * threads and the gateway's streams). An account with more grants than
 * LIMIT_ROWCACHE_GRANTS positive ones is kept without them (its settles
 * read them), which keeps an entry small. */
/* A batch of kept rows makes its write CALL, COMMIT inside, the first
 * statement of its transaction; on a connection the server closed while it
 * sat idle (a restart, wait_timeout), that CALL fails in a way that cannot
 * say whether it ran, and the batch is answered 503. So the kept rows are
 * used only on a connection that ended a transaction well this recently;
 * an idle one reads first, as before, and a dead one is made again
 * unseen. Under load every connection is this fresh. */
#define LIMIT_ROWCACHE_FRESH_MS 2000
/* A batch whose kept rows another batch is deciding on waits for that
 * batch to store them (its write takes a few milliseconds) rather than
 * read: a read would lock the account before the other batch's write and
 * make it find the rows moved (at 16 clients on one account, 777 of 836
 * kept writes were refused so). Past this wait it reads. */
#define LIMIT_ROWCACHE_CLAIM_WAIT_MS 100
#define LIMIT_ROWCACHE_ACCOUNTS 16384
#define LIMIT_ROWCACHE_HOLDS 4096
#define LIMIT_ROWCACHE_GRANTS 6
_Static_assert((LIMIT_ROWCACHE_ACCOUNTS & (LIMIT_ROWCACHE_ACCOUNTS - 1)) == 0 &&
	       (LIMIT_ROWCACHE_HOLDS & (LIMIT_ROWCACHE_HOLDS - 1)) == 0, "slots are taken by a mask");
/* The JSON parameter of one batch's CALL: at most LIMIT_BATCH_OPS settle
 * answers of LIMIT_SETTLE_RESPONSE_BYTES, escaped (x2), plus their rows. */
#define LIMIT_BATCH_JSON_BYTES (1024 * 1024)
/* What a batch's read CALL may return: LIMIT_BATCH_OPS stored answers of
 * up to LIMIT_DB_COLUMN_BYTES, with room for the rows around them; and
 * values in all (an account with thousands of grants is read whole). */
#define LIMIT_BATCH_READ_BYTES (LIMIT_BATCH_OPS * LIMIT_DB_COLUMN_BYTES + 1024 * 1024)
#define LIMIT_BATCH_READ_CELLS (256 * 1024)
/* Buffers a pooled batch keeps between batches: a batch of LIMIT_BATCH_OPS
 * guard writes needs tens of KiB; one that grew past this (an account's
 * stored answers, a page of grants for many accounts) is freed. */
#define LIMIT_BATCH_KEEP_BYTES (256 * 1024)
/* Result sets of one CALL: cd_batch_read returns eight at most. */
#define LIMIT_DB_RESULT_SETS 16
/* Columns of one result set: a hold with its member row is 34. */
#define LIMIT_DB_SET_COLUMNS 48
/* Positive grants a spend reads at a time, in spending order (a charge rarely burns two); a debit
 * or a capture reads the next page, a guard batch of one past them the wide page: as many as
 * one write burns (~25 bytes of its JSON each), a charge past it refused (docs/decisions.md). */
#define LIMIT_SPEND_GRANTS 64
#define LIMIT_SPEND_GRANTS_WIDE 16384
_Static_assert(LIMIT_SPEND_GRANTS_WIDE * 32 < LIMIT_BATCH_JSON_BYTES, "a wide page's burns fit one write");
/* Accounts whose id creditd remembers by external id (a batch locks
 * accounts by id, in one order, and names them by id): an account's id
 * never changes once made. When full, the table is emptied and fills
 * again. */
#define LIMIT_ACCOUNT_ID_CACHE 16384
/* Promo codes (docs/api.md, "POST /v1/promo_codes"): 4-64 of [A-Za-z0-9_-] (promo_codes.code is
 * VARCHAR(64)); redemptions and a grant's lifetime kept to sane sizes. */
#define LIMIT_PROMO_CODE_MIN_BYTES 4
#define LIMIT_PROMO_CODE_BYTES 64
#define LIMIT_PROMO_REDEMPTIONS_MAX 1000000000
#define LIMIT_PROMO_GRANT_TTL_DAYS_MAX 3650
/* Referral codes: 10 of 32 letters (keys.c), 50 random bits: short to
 * type, URL-safe, unguessable enough (a code only names who invited);
 * a code drawn twice is drawn again, so many times at most. A grant's
 * life and the monthly cap kept to sane sizes. */
#define LIMIT_REFERRAL_CODE_CHARS 10
#define LIMIT_REFERRAL_CODE_BYTES 16	/* referral_codes.code */
#define LIMIT_REFERRAL_CODE_TRIES 4
#define LIMIT_REFERRAL_EXPIRES_DAYS_MAX 3650
#define LIMIT_REFERRALS_PER_MONTH_MAX 1000000
/* [referral] hold_days: a reward waits out its top-up's refunds and
 * disputes (docs/growth.md); card networks take chargebacks up to about
 * 120 days after a payment, so a year covers every window. The sweep
 * grants at most this many due rewards a pass, each in its own
 * transaction. */
#define LIMIT_REFERRAL_HOLD_DAYS_MAX 365
#define LIMIT_REFERRAL_DUE_BATCH 100
/* Plans (docs/api.md, "PUT /v1/plans/{name}"): names 1-64 of [A-Za-z0-9_.-] (plans.name is
 * VARBINARY(64), accounts.plan as long); a plan lists at most this many
 * Stripe prices (a product's monthly and yearly prices, a few currencies). */
#define LIMIT_PLAN_NAME_BYTES 64
#define LIMIT_PLAN_STRIPE_PRICES 16
/* Whole-transaction retries on deadlock / lock wait timeout / conflicts. */
#define LIMIT_TX_RETRIES 8
/* Of a transaction that writes two accounts (a referral's reward), and of any on Galera: there
 * one drawing an event id (event_seq's one row) certifies against every node drawing at once,
 * and a burst of them through three nodes failed eight tries; the same deadline (the backoff
 * reaches 64 ms a try). */
#define LIMIT_TX_RETRIES_WIDE 32
/* InnoDB lock wait of creditd's sessions: a row locked longer than this
 * is a stuck writer, and the transaction is retried or answered 503. It is
 * shortened below the database read timeout when that is smaller. */
#define LIMIT_DB_LOCK_WAIT_SECONDS 10
/* The health watchdog pings the database this often: with a 1 s ping
 * timeout a stall or loss shows in /healthz within 2 s, and so does the
 * recovery. */
#define LIMIT_HEALTH_INTERVAL_MS 500
/* A transaction whose connection turned out dead is run once more on a new one (the server restarted since the
 * thread last used it), but only when the failure came this fast: a slow failure is a stall, and a second try
 * would double the time the client waits. */
#define LIMIT_RECONNECT_RETRY_MS 1000
/* REPAIR LOCAL TABLE (store_tx.c: a cached copy of a table whose triggers MariaDB could not parse, dropped) waits this
 * long for the transactions using each table, writes queued behind it; past it the copy stays, and a later try. */
#define LIMIT_TRIGGER_REPAIR_WAIT_SECONDS 1
/* Operators' commands (creditctl) scan whole tables: their statements may
 * take this long before the connection is given up. Not creditctl sweep's,
 * which runs the daemon's passes with the daemon's timeouts. */
#define LIMIT_DB_ADMIN_TIMEOUT_SECONDS 3600
/* Rate limits (docs/api.md, "Rate limits"): at most this many requests or tokens per
 * minute can be set (a billion a minute is no limit at all). */
#define LIMIT_RATE_MAX 1000000000
/* A JSON price catalogue creditctl reads whole: public catalogues of
 * every provider's models run to about 1 MiB. */
#define LIMIT_PRICE_FILE_BYTES (16 * 1024 * 1024)
/* A price import's rise bound (creditctl price import --max-increase-pct,
 * POST /v1/models/import's max_increase_pct): 20 % by default, so that a
 * catalogue's mistake is not billed; at most 10,000 times the price
 * (1,000,000 %), beyond which the bound means nothing. */
#define LIMIT_PRICE_RISE_PCT_DEFAULT 20
#define LIMIT_PRICE_RISE_PCT_MAX 1000000
/* A price multiplier (fast_multiplier_bps, ...), in basis points: the
 * providers' run to 6x (60,000); 100x is past any, and keeps a scaled
 * price of the largest row (10^12 micros a million tokens) in int64. */
#define LIMIT_PRICE_MULTIPLIER_BPS 1000000
/* Database nodes of one Galera cluster ([database] nodes): a worker keeps
 * a connection to each node it has served, so threads × nodes connections
 * per instance; three nodes is Galera's smallest cluster that survives a
 * loss, nine is more than one cluster of synchronous writers scales to. */
#define LIMIT_DB_NODES 9
/* A node's "host:port" as configured (a DNS name at most 253 bytes, a
 * port, brackets of an IPv6 address). */
#define LIMIT_DB_NODE_BYTES 272
/* Worker threads: each owns one DB connection (one per node with nodes). */
#define LIMIT_THREADS_MAX 1024
/* malloc arenas (glibc's M_ARENA_MAX), set at start unless the environment
 * sets MALLOC_ARENA_MAX or glibc.malloc.arena_max. glibc's default is 8 per
 * core, so 64 worker threads on 2 cores spread over 16 arenas; the thread
 * that runs a group-commit batch builds the answers that the requesting
 * threads free, and under a long mixed load RSS kept rising about 1.4 MiB a
 * minute as those arenas grew apart. With 2 it levels off after warm-up (measured with the
 * chaos soak); the threads mostly wait on the database, so two locks are
 * not a bottleneck. */
#define LIMIT_MALLOC_ARENAS 2
/* How often the background thread gives free heap pages back (malloc_trim):
 * once a minute costs a walk of two arenas, a few milliseconds, and keeps
 * RSS near what is live instead of the highest a burst reached. */
#define LIMIT_MALLOC_TRIM_SECONDS 60
/* Holds live at most one day (docs/api.md, "`ttl_seconds` is 1–86400"). */
#define LIMIT_HOLD_TTL_MAX_SECONDS 86400
/* Journal pages. */
#define LIMIT_PAGE_DEFAULT 50
#define LIMIT_PAGE_MAX 200
/* A page of GET /v1/accounts?q= (docs/api.md, "The operator's reads"):
 * a screen of rows for a person to look at, and each of the search's two
 * index ranges reads at most a page and one. */
#define LIMIT_ACCOUNT_SEARCH_PAGE_MAX 100
#define LIMIT_ACCOUNT_SEARCH_PAGE_DEFAULT 25
/* The accounts GET /v1/overview lists by the month's spend: a glance, not a report (the usage report is). */
#define LIMIT_OVERVIEW_TOP_ACCOUNTS 10
/* GET /v1/reconcile (docs/api.md, "Reconciliation, creditd's side"): a
 * month of days, and at most as many day × model rows as a page can show
 * and a request can build in memory (about 1 KiB of JSON each); a wider
 * range is refused, not cut (creditctl reconcile takes a year). */
#define LIMIT_RECONCILE_API_DAYS 31
#define LIMIT_RECONCILE_API_ROWS 2000
/* The expired holds it lists: the first ones, and whether there are more (creditctl reconcile lists
 * them all); the stored drift rows, about 16 figures a day × model row (docs/reconciliation.md, "What is stored"). */
#define LIMIT_RECONCILE_API_HOLDS 100
#define LIMIT_RECONCILE_API_DRIFT_ROWS (16 * LIMIT_RECONCILE_API_ROWS)
/* Grants listed in GET /v1/accounts/{id} (spending order, first ones). */
#define LIMIT_GRANTS_LISTED 100
/* Token counts of one call (input, cached input, cache-write input, output, a
 * hold's maximum and minimum output): 10^9 is a thousand times the largest
 * context window any model has (docs/api.md, "Money stays in range"). It
 * keeps every cost product (tokens × a price of at most int64) well inside
 * 128 bits, and a call's tokens, summed into a rate window, inside int64. */
#define LIMIT_TOKENS_MAX 1000000000LL
/* The input tokens one image part of a gateway request counts for in the
 * hold's input bound (gwshape.c; the part's own bytes are taken off).
 * What providers bill for an image at most: Anthropic about
 * width × height / 750 of an image resized to at most ~1.15 megapixels,
 * ~1,600; OpenAI's tiled models 85 + 170 a 512-px tile of an image fit to
 * 2048 × 2048 then 768 on its short side, at most 8 tiles, 1,445 (o1 and
 * o3: 75 + 150 a tile); its patch-billed models at most 1,536 patches
 * times a multiplier of up to 2.46 (gpt-4.1-nano), 3,779. 6,400 covers
 * the largest of these with a margin of 70 % and the others four times
 * over. Not covered: gpt-4o-mini, whose image tokens are inflated to
 * price an image as gpt-4o does (2,833 + 5,667 a tile, up to 48,169);
 * its holds fall short for images, and the charge is the provider's
 * figure as always. */
#define LIMIT_GATEWAY_IMAGE_TOKENS 6400
/* Nesting of a gateway request's body: tool schemas are JSON Schema, a
 * few levels each (~20 deep in practice); jansson walks a body
 * recursively (~300 bytes of stack a level when dumped), so a body nested
 * thousands deep would pass a gateway thread's stack. */
#define LIMIT_GATEWAY_JSON_DEPTH 128
/* The largest server-sent event the gateway keeps while it assembles one
 * (gwshape_usage.c): an event is held whole to read its usage before it
 * is passed on. Deltas are small; the large events repeat a whole answer:
 * Responses' response.completed (and .output_item.done) carry every
 * output item (128k output tokens are about 512 KiB of text, more with
 * JSON escapes and reasoning's encrypted content) and echo the request's
 * instructions and tools; a tool call's arguments may come in one chunk.
 * 4 MiB holds these with room; a stream sending a larger event is ended.
 * A buffer grown past 64 KiB is freed once its event is passed on, so
 * only the streams inside such an event hold one. */
#define LIMIT_GATEWAY_EVENT_BYTES (4 * 1024 * 1024)
_Static_assert(LIMIT_GATEWAY_IMAGE_TOKENS <= LIMIT_TOKENS_MAX, "an image's tokens are a count");
/* A settle's reason (docs/api.md, "Settle reasons": provider_usage, client_gone, estimated,
 * provider_error), as usage_records.settle_reason keeps it: VARCHAR(32)
 * (sql/034_cache_writes_and_reasons.sql), room for names to come. */
#define LIMIT_SETTLE_REASON_BYTES 32
/* Any single charge, grant or debit (docs/api.md, "Money stays in range"): 10^12 micros (a million
 * units) is far above any one AI call or top-up. It bounds grant and debit
 * amount_micros, promo codes, a plan's credits, rollover cap and member
 * cap, and the computed cost of an authorize hold, a settle or a usage:
 * one operation can never move a balance or a counter by more. */
#define LIMIT_AMOUNT_MICROS_MAX 1000000000000LL
/* Account settings that bound spending rather than move money
 * (overdraft_limit, monthly and daily limits, low_balance, an
 * auto-recharge's threshold): 10^15 micros, a billion units, is no bound
 * at all, and still small beside the range below. */
#define LIMIT_SETTING_MICROS_MAX 1000000000000000LL
/* The range of every balance, reserve and spend counter (accounts and
 * members): ±9·10^18 micros (docs/api.md, "Money stays in range"). Money arithmetic is checked
 * (src/money/money.h): an operation that would take one beyond it is refused,
 * never wrapped. It sits below INT64_MAX by more than one charge plus an
 * overdraft, so the sums that decide (available, spend plus holds plus a
 * charge) are computed without wrapping either. */
#define LIMIT_BALANCE_MICROS_MAX 9000000000000000000LL
/* A config file is read whole: a full one is a few KiB. */
#define LIMIT_CONFIG_FILE_BYTES (1024 * 1024)
/* Config file lines. */
#define LIMIT_CONFIG_LINE_BYTES 4096
/* A named section's name ("[provider NAME]"), with its NUL: a name goes
 * into a gateway call's request_id (gw_NAME_<random>) and a metric's
 * label, so it is short and of a few characters. */
#define LIMIT_CONFIG_NAME_BYTES 33
/* Named sections in one config: providers are a few, and each costs a
 * block and its strings for the daemon's life. */
#define LIMIT_CONFIG_NAMED 64
/* The gateway's providers counted in metrics: every section and §12's two. */
#define LIMIT_METRICS_PROVIDERS (LIMIT_CONFIG_NAMED + 2)
/* Signing secrets (widget.token_secret, notify.secret, each Stripe
 * webhook secret): HMAC-SHA256 keys shorter than 32 bytes are guessable
 * offline from one signed message; a "whsec_" secret counts whole. */
#define LIMIT_SECRET_MIN_BYTES 32
/* A password file given to creditctl migrate (--password-file): one line. */
#define LIMIT_PASSWORD_FILE_BYTES 1024
/* Webhook secrets configured at once (rotation). */
#define LIMIT_WEBHOOK_SECRETS 8
/* Retries of a Stripe call whose idempotency key is still in flight (a
 * concurrent top-up creating the same customer), LIMIT_STRIPE_BUSY_WAIT_MS
 * times the attempt apart: 250+500+750+1000 ms outlasts a normal call. */
#define LIMIT_STRIPE_BUSY_RETRIES 4
#define LIMIT_STRIPE_BUSY_WAIT_MS 250
/* Migration files creditctl migrate takes from one sql directory: creditd
 * has a handful; a directory with more is the wrong one, and is refused
 * whole rather than applied in part. */
#define LIMIT_MIGRATIONS_MAX 256
/* A migration file's name, in bytes: it is recorded in
 * schema_migrations.name, VARCHAR(255), and creditctl migrate hands the
 * names it applied back in buffers of this size; a directory with a longer
 * name is refused whole, like one with too many files. */
#define LIMIT_MIGRATION_NAME_BYTES 255
/* How long creditctl migrate waits for another's run (the package upgrades
 * every host of a fleet at once; a migration takes seconds to minutes,
 * 025's index rebuild 29 s on 9.8M rows) before it gives up. */
#define LIMIT_MIGRATE_LOCK_SECONDS 900
/* Rows one call reads when creditctl lists API keys, promo codes, events
 * or a model's price history: each call is one short transaction that
 * fills the caller's array of fixed-size rows (under 2 KiB each, so a page
 * stays under 200 KiB), and a longer list is read page after page from
 * the last row, so no list is ever cut short or held whole in memory. */
#define LIMIT_LIST_PAGE 100
/* Journal rows one call of an export reads (ledger_export_next): a row
 * with its text (a description and a reference of up to 500 and 255
 * characters) is about 3.3 KiB, so a page is under 1 MiB however long the
 * account's journal is; creditctl asks for the next page after the last
 * row it printed. */
#define LIMIT_EXPORT_PAGE 256
/* Findings creditctl verify lists (about 3 KiB each with their values):
 * a healthy ledger has none, and a bug that breaks an invariant breaks it
 * alike for many accounts, so the first few hundred show the pattern. The
 * counts stay exact; how many more were found is said on stderr. */
#define LIMIT_VERIFY_VIOLATIONS 256
/* Memory one verify statement may use for its grouping (tmp_table_size,
 * max_heap_table_size) and its sort (sort_buffer_size), set on creditctl's
 * session only: a grouping by account of a million accounts is some 40
 * MB, and the journal chain sorts the whole journal (twenty million rows:
 * a few hundred MB); with MariaDB's defaults (16 MB, 2 MB) both spill to
 * temporary files, which on a machine short of disk bandwidth made verify
 * several times slower (docs/growth.md). */
#define LIMIT_VERIFY_TMP_BYTES (512LL * 1024 * 1024)
#define LIMIT_VERIFY_SORT_BYTES (256LL * 1024 * 1024)
/* Blocks (BEGIN, IF, LOOP, CASE ...) open at once in a stored program of
 * a migration, which sqlsplit.c keeps on a fixed stack: creditd's deepest
 * has three; a program nested past this is refused, not split by guess. */
#define LIMIT_SQL_BLOCK_DEPTH 32
/* Bytes of a failing migration statement's first line that creditctl
 * quotes: enough to name it ("CREATE PROCEDURE creditd_spend(..."),
 * short enough for the error to stay one line. */
#define LIMIT_MIGRATION_QUOTE_BYTES 100
/* An X-Request-Id header creditd adopts (letters, digits, '-', '_', '.'):
 * it is echoed in the answer and written in every log line, so it stays
 * short; a longer or odd one is replaced by an id creditd makes. */
#define LIMIT_X_REQUEST_ID_BYTES 64
/* Random bytes of an id creditd makes for a request (twice as many hex
 * digits): 64 bits tell apart the requests of any log. */
#define LIMIT_X_REQUEST_ID_RANDOM_BYTES 8
/* Random bytes a thread draws at once for ids that are no secret (the
 * X-Request-Id above): one RAND_bytes call every 64 requests instead of
 * one each (the call locks the DRBG and keys its cipher, a twentieth of a
 * guard request's CPU); 512 bytes a thread is nothing beside its stack. */
#define LIMIT_RANDOM_ID_POOL_BYTES 512
/* A price lookup that misses asks the reload thread to reload the price
 * table, and waits for it, at most LIMIT_PRICE_MISS_RELOADS times in
 * LIMIT_PRICE_MISS_RELOAD_MS, process-wide: a model priced a moment ago is
 * found by its first request (or within the window when misses used them
 * up: each sweep asks for a reload too), and a stream of requests naming
 * models that do not exist costs at most 8 reloads a second
 * (docs/decisions.md, "Price misses"), not one each. Reloads go one at a
 * time: misses that come while one is asked for or in flight wait for it
 * and look again without spending the quota. */
#define LIMIT_PRICE_MISS_RELOAD_MS 1000
#define LIMIT_PRICE_MISS_RELOADS 8
/* What a thread is serving, written with an assertion failure (log.h's
 * log_context_push): a request's method, path and X-Request-Id, then a
 * guard batch's operations (up to LIMIT_BATCH_OPS, each named by its kind
 * and account or hold id); what does not fit is cut, the line stays one
 * line of the log. */
#define LIMIT_LOG_CONTEXT_BYTES 1536
/* Hold ids creditd hands out, "hold_<account>_<hold>" with two ids of at
 * most 19 digits (44 bytes): settle and release refuse a longer one, and a
 * buffer of this size holds any with its NUL. */
#define LIMIT_HOLD_ID_BYTES 64
/* Stripe object ids (evt_, cs_, cus_, sub_, pi_, ch_): Stripe allows up to
 * 255 characters, and the columns that keep them are VARCHAR(255). */
#define LIMIT_STRIPE_ID_BYTES 255
/* A receipt or invoice URL from a Stripe event (a charge's receipt_url,
 * an invoice's hosted_invoice_url and invoice_pdf): Stripe's are under 300
 * bytes; the topups columns that keep them are VARCHAR(1024)
 * (sql/023_receipts.sql). A longer one, or one that is not https, is not
 * stored: the widget links to it, so only what fits and is safe to link. */
#define LIMIT_RECEIPT_URL_BYTES 1024
/* The largest count (requests, tokens) a provider's usage report may give
 * for one day and model: 10^15, a thousand times more tokens than any
 * provider serves a customer a day; sums of a few of them stay far within
 * int64 (a file past it is bad input, exit 2). */
#define LIMIT_RECONCILE_COUNT_MAX 1000000000000000LL
/* A charge's receipt kept for a top-up not credited yet (ledger_topups.c):
 * a top-up is credited within minutes of its charge, or its session
 * expires within a day; a week leaves room for Stripe's retries. */
#define LIMIT_RECEIPT_WAIT_DAYS 7
/* The most top-ups per account and hour stripe.topups_per_hour may allow:
 * each is a Checkout Session at Stripe, and a real buyer starts a few. */
#define LIMIT_TOPUPS_PER_HOUR_MAX 1000
/* The window stripe.topups_per_hour counts in. */
#define LIMIT_TOPUP_WINDOW_SECONDS 3600
/* A top-up still pending this long after it started is marked expired
 * (docs/decisions.md, "Expired top-ups"): Checkout Sessions expire after 24 h at the latest. */
#define LIMIT_TOPUP_PENDING_SECONDS (24 * 3600)
/* A Checkout Session's url, in bytes: Stripe's are under 600; the
 * topups column that keeps it for a replayed top-up is VARCHAR(2048)
 * (sql/028_topup_attempts.sql), and a longer one is refused as unusable
 * when Stripe answers (stripe.c). */
#define LIMIT_CHECKOUT_URL_BYTES 2047
/* A top-up under an Idempotency-Key whose row has no session yet is
 * another request's still calling Stripe (409) for as long as that request
 * may last: its customer call tried LIMIT_STRIPE_BUSY_RETRIES more times,
 * its session call once, each within stripe.connect_timeout_ms and
 * timeout_ms, plus this margin for the database around them. Past that
 * its process died mid-call and the key may be tried again. */
#define LIMIT_TOPUP_INFLIGHT_MARGIN_SECONDS 60
/* Pending top-ups one sweep marks expired, in one short transaction; the
 * rest wait for the next pass. */
#define LIMIT_TOPUP_EXPIRE_BATCH 100
/* Accounts with due holds or grants one background sweep takes, each in
 * its own transaction: the pass stays short, so price reloads and a stop
 * are not held up; the rest wait for the next pass. */
#define LIMIT_SWEEP_ACCOUNTS 256
/* creditctl sweep (a cron job where no creditd stays up, as on shared
 * hosting) starts no new pass or round after this long; what is left
 * waits for the next run. This does not bound the run: a pass or round
 * already started runs to its end, each call in it within its own
 * timeout (the daemon's database timeouts, which the sweep keeps, and
 * Stripe's and the event push's), and a round of slow Stripe calls takes
 * minutes. So a run cron starts every minute may find the one before
 * still going: it finds that run's named lock held and ends at once,
 * doing nothing (ctl_sweep.c), and runs never pile up. Where the server
 * has no named locks (Galera) two runs may overlap, which is safe: what
 * one claims is leased to it. */
#define LIMIT_SWEEP_RUN_SECONDS 50
/* Retention (docs/decisions.md, "Retention"): rows one purge DELETE removes,
 * each DELETE in its own transaction. InnoDB locks every row a DELETE
 * reads until its commit: 500 old holds (five index entries each, and a
 * look at the usage index) take 50-150 ms on a grown ledger under load,
 * rows no request touches. Stays a plain number: it is spelt into the
 * statements' text. */
#define LIMIT_PURGE_BATCH 500
/* Batches of one purge statement (one a table; of holds, one a finished
 * state) one sweep runs at most, one after the other while the last was
 * full. The rest wait for the next sweep. */
#define LIMIT_PURGE_BATCHES 10
/* The time one sweep purges, in all (a batch started runs to its end):
 * 200 ms of a 5 s sweep keeps the purge's share of the database small
 * (on a 2-core machine 10 batches a 1 s sweep cost the guard a third of
 * its pairs while a backlog lasted), and still removes tens of thousands
 * of rows a minute, far more than a busy ledger writes. */
#define LIMIT_PURGE_SWEEP_MS 200
/* The least [retention] stripe_events_days other than 0 (never): Stripe
 * retries a webhook for up to 3 days and keeps an event for 30 (GET
 * /v1/events, a resend from the Dashboard); an id forgotten sooner could
 * come back and be applied a second time. */
#define LIMIT_STRIPE_EVENTS_MIN_DAYS 30
/* A finished hold outlives its authorize's Idempotency-Key by this much
 * at least, whatever [retention] holds_days says: a replayed authorize
 * answers the hold's id, and a key may be purged a while after its
 * idempotency_ttl_hours (a sweep works a backlog off over time), so its
 * hold must still be there for the settle that follows. A day. */
#define LIMIT_HOLD_AFTER_KEY_SECONDS 86400
/* The most days a [retention] key may say: a hundred years. */
#define LIMIT_RETENTION_MAX_DAYS 36500
/* Models (a provider's own row for one counting as one) and actions in
 * the price cache: a deployment prices tens, and
 * LiteLLM's whole catalogue, imported as it is, about 2,200 (2026); an
 * import that would make more is refused whole (nothing written), and a
 * reload finding more is refused (logged): never cut silently. Looked up
 * by binary search. */
#define LIMIT_PRICES 4096
/* Expired holds or grants of one account applied per statement batch
 * (their ids are read into arrays of this size); the sweep of an account
 * loops until none is due, so this bounds memory, not the work. A hold
 * the sweep skips (a batch job's, a running background run's) keeps its
 * account due again this much later: its job or run may end and leave it
 * unresolved, due to be charged (docs/gateway.md, "Background responses"). */
#define LIMIT_SWEEP_BATCH 64
#define LIMIT_SWEEP_SKIPPED_SECONDS 3600
/* Prepared statements one connection keeps: creditd has about 260
 * distinct statements (tests/unit/test_layering.sh counts them and fails
 * past half of this), and a long-lived connection may in time prepare
 * every one; a new one past this is an error, not a leak. 64 bytes each. */
#define LIMIT_DB_STATEMENTS 640
/* Parameters of one statement: the widest, the price import's model (a
 * name, five prices, the 29 optional dimensions of pricing.h and the
 * time), has 36; room for a few more dimensions. A struct db_params is
 * about 130 bytes a parameter, on its caller's stack. */
#define LIMIT_DB_PARAMS 48
/* A result column is read into a buffer of its declared size, capped at
 * this: the widest values creditd reads back (stored answers under an
 * Idempotency-Key, an account with its grants) are a few KiB; a longer one
 * is reported as truncated and the statement fails. */
#define LIMIT_DB_COLUMN_BYTES (64 * 1024)
/* A settle's answer is kept with its hold to replay it: holds.settle_response
 * is VARBINARY(2048) (sql/001_init.sql). The answer (ids, six numbers) is
 * under 500 bytes; a longer one is an error, never cut. */
#define LIMIT_SETTLE_RESPONSE_BYTES 2048
/* API keys a worker remembers, and for how long: the guard routes skip a
 * database round trip per request, and a revoked key stops working within
 * this many seconds. */
#define LIMIT_KEY_CACHE_SLOTS 8
#define LIMIT_KEY_CACHE_SECONDS 1
/* Well-formed keys the database did not know (one table per process),
 * and for how long: a client repeating a bogus or revoked key costs no
 * database round trip, and a key created after it was refused starts
 * working within this many seconds. 64 slots of 77 bytes; a flood of
 * ever-new keys only recycles them (each then costs its one lookup). */
#define LIMIT_KEY_UNKNOWN_SLOTS 64
/* Keys the database knew, remembered for the whole process so that a
 * client address throttled for failed authentication still has them
 * looked up (authlimit.h): ten minutes outlasts the throttle's window
 * many times; 256 keys cover the apps behind one address, each slot
 * walked at most once per throttled request. */
#define LIMIT_KEY_TRUSTED_SLOTS 256
#define LIMIT_KEY_TRUSTED_SECONDS 600
#define LIMIT_KEY_UNKNOWN_SECONDS 30
_Static_assert(LIMIT_KEY_UNKNOWN_SECONDS >= LIMIT_KEY_CACHE_SECONDS, "a refusal is remembered at least as long");
/* An API key's last_used_at (shown with an account's gateway keys) is
 * written by the look-up that finds it older than this: the known-key
 * cache lets a key be looked up at most once a second per worker, and a
 * key in steady use then costs about one UPDATE a minute, never a write
 * per call. The list shows a key's last use to the minute. */
#define LIMIT_KEY_LAST_USED_SECONDS 60
_Static_assert(LIMIT_KEY_LAST_USED_SECONDS > LIMIT_KEY_CACHE_SECONDS, "fewer writes than look-ups");

/* The operator's console's sessions (docs/operations.md, "Console"): a
 * session lasts 12 hours at most from its sign-in (a working day; a
 * stolen cookie is good for no longer) and ends after 30 minutes without
 * a call (a browser left open). Its last call is written at most once a
 * LIMIT_CONSOLE_SEEN_SECONDS (a write a minute, not one per call): the
 * idle limit is then kept to within a minute. The id and the CSRF token
 * are 32 random bytes each (RAND_bytes), sent as hex. */
#define LIMIT_CONSOLE_SESSION_SECONDS (12 * 3600)
#define LIMIT_CONSOLE_IDLE_SECONDS (30 * 60)
#define LIMIT_CONSOLE_SEEN_SECONDS 60
#define LIMIT_CONSOLE_RANDOM_BYTES 32
/* The longest text a sign-in's "key" is checked as: any wrong text up to
 * it is the same 401 (keys_wellformed refuses all but a key's length);
 * more is a 400, as a body field past its bound is. */
#define LIMIT_CONSOLE_SIGNIN_KEY_BYTES 1024
/* A Set-Cookie value creditd writes: the name, the id's hex, a Path of
 * the base path (LIMIT_PATH_BYTES at most) and the flags. */
#define LIMIT_CONSOLE_COOKIE_BYTES (2 * LIMIT_CONSOLE_RANDOM_BYTES + LIMIT_PATH_BYTES + 128)
_Static_assert(LIMIT_CONSOLE_SEEN_SECONDS < LIMIT_CONSOLE_IDLE_SECONDS, "the idle clock moves well within its limit");
_Static_assert(LIMIT_CONSOLE_IDLE_SECONDS < LIMIT_CONSOLE_SESSION_SECONDS, "idle ends a session before its age does");
/* Live gateway keys (neither revoked nor expired) one account may have
 * (docs/decisions.md, "Gateway keys"): one for each member of a large workspace, and spares. A
 * create counts them under the account's lock, an index range of at most
 * this many entries; one more is a 409 until some are revoked or expire. */
#define LIMIT_GATEWAY_KEYS_PER_ACCOUNT 10000
/* Threshold alerts one account may have (docs/api.md, "Threshold alerts";
 * OpenMeter's 50/80/100 % on a few figures at once): every operation
 * that changes the account's money reads them all under its row's lock,
 * so they stay few; the count fits accounts.alert_count (a TINYINT). */
#define LIMIT_ALERTS 16
_Static_assert(LIMIT_ALERTS >= 1 && LIMIT_ALERTS <= 255, "the count fits accounts.alert_count");
/* Members an alert of every member (member_cap_pct without one) is set
 * fired for at once when it is set: those past its threshold already,
 * read from the account's member rows in one page (PUT …/alerts). */
#define LIMIT_ALERT_MEMBERS_READ 10000
/* Plan grants of one plan period a guard batch reads for its accounts'
 * plan_credits_used_pct alerts (sql/059): a period has its credit, a
 * rollover and an upgrade's difference, a few more when an invoice is
 * paid in parts; a batch past this fails, logged (the figures would be
 * wrong without them). */
#define LIMIT_ALERT_PLAN_GRANTS 256
/* Models a key may be limited to (docs/gateway.md, "What a key holder can and cannot do": creditctl
 * key create --models, a gateway key's "models"): enough for a product's
 * tiers and their dated versions; kept as one comma-separated text with
 * the key (api_keys.models VARBINARY(1039): 16 names of LIMIT_NAME_BYTES
 * and the commas between them), so every key look-up brings it. */
#define LIMIT_KEY_MODELS 16
#define LIMIT_KEY_MODELS_BYTES (LIMIT_KEY_MODELS * (LIMIT_NAME_BYTES + 1) - 1)
_Static_assert(LIMIT_KEY_MODELS_BYTES == 1039, "api_keys.models is VARBINARY(1039)");
/* The failed-authentication throttle (authlimit.c; docs/operations.md,
 * "Failed authentication"): failures are counted per client address in a
 * window of this many seconds from the address's first failure, as [security]
 * auth_failures_per_minute says "a minute". */
#define LIMIT_AUTH_WINDOW_SECONDS 60
/* Client addresses it keeps a count for at once, in one table for the
 * process: 80 KiB of 80-byte slots, walked whole on each key look-up
 * (microseconds). More addresses failing within one minute recycle the
 * oldest window's slot: that address starts again from none, and a key
 * sent again is still answered from the refused keys
 * (LIMIT_KEY_UNKNOWN_SECONDS). */
#define LIMIT_AUTH_ADDRESS_SLOTS 1024
/* An address's text as the web server passes REMOTE_ADDR, an IPv6 one
 * kept as its /64: at most 45 characters and "/64" (INET6_ADDRSTRLEN,
 * 46, with its NUL), so it fits; a longer text is no address, and its
 * first 63 bytes count. */
#define LIMIT_AUTH_ADDRESS_BYTES 64
/* The most [security] auth_failures_per_minute may say: a million a
 * minute is more key look-ups than one creditd gets answered by its
 * database, so more would never throttle; 0 says so plainly. */
#define LIMIT_AUTH_FAILURES_MAX 1000000
_Static_assert(LIMIT_AUTH_ADDRESS_BYTES >= 46 + 3, "an IPv6 /64 in text, with its NUL, fits a slot");
_Static_assert(LIMIT_AUTH_WINDOW_SECONDS == 60, "auth_failures_per_minute counts failures per minute");
/* The listening socket's backlog: connections the kernel queues while
 * every worker is busy (the web server's pool is far smaller). */
#define LIMIT_LISTEN_BACKLOG 1024
/* SIGTERM waits this long for requests in flight (a Stripe call may take
 * stripe.timeout_ms, 20 s by default) before creditd exits anyway. */
#define LIMIT_STOP_WAIT_MS 30000
/* Stack of each worker thread: the deepest path (a request's JSON, a
 * prepared statement's parameters, Stripe's form) uses under 64 KiB. */
#define LIMIT_THREAD_STACK_BYTES (512 * 1024)

_Static_assert(LIMIT_SETTLE_RESPONSE_BYTES <= LIMIT_DB_COLUMN_BYTES, "a stored settle answer must be readable back");
/* The columns of sql/001_init.sql that keep what these limits allow: a
 * change to either side must change the other (and add a migration). */
_Static_assert(LIMIT_ACCOUNT_ID_BYTES == 128, "accounts.ext_id and members.member are VARBINARY(128)");
_Static_assert(LIMIT_REQUEST_ID_BYTES == 128, "holds.request_id, usage_records.usage_key are VARBINARY(128)");
_Static_assert(LIMIT_NAME_BYTES == 64, "models.name, holds.model, accounts.plan are VARCHAR(64)");
_Static_assert(LIMIT_SETTLE_REASON_BYTES == 32, "usage_records.settle_reason is VARCHAR(32)");
_Static_assert(LIMIT_DESCRIPTION_CHARS == 500, "journal.description and grants.description are VARCHAR(500)");
_Static_assert(LIMIT_IDEMPOTENCY_KEY_BYTES == 255, "idempotency_keys.idem_key is VARBINARY(255)");
_Static_assert(LIMIT_SETTLE_RESPONSE_BYTES == 2048, "holds.settle_response is VARBINARY(2048)");
_Static_assert(LIMIT_HEALTH_INTERVAL_MS < 1000, "the watchdog must look at least once a second to say 503 within 2 s");
_Static_assert(LIMIT_BODY_DEFAULT_BYTES <= LIMIT_BODY_MAX_BYTES, "default body cap above hard cap");
_Static_assert(LIMIT_PAGE_DEFAULT <= LIMIT_PAGE_MAX, "default page above max page");
_Static_assert(LIMIT_LIST_PAGE >= 1 && LIMIT_EXPORT_PAGE >= 1 && LIMIT_VERIFY_VIOLATIONS >= 1,
	       "a page must hold a row for its reader to move on");
_Static_assert((LIMIT_METRICS_ROUTES + 1) * METRICS_LINES_PER_ROUTE * (96 + LIMIT_METRICS_ROUTE_NAME_BYTES) +
		       LIMIT_DB_NODES * (2 * LIMIT_DB_NODE_BYTES + 32) + LIMIT_METRICS_PURGE_TABLES * 96 + 8192 +
		       /* the gateway's lines: 5 routes by every status, reasons, buckets */
		       5 * (METRICS_STATUS_SLOTS + 1) * 128 + 4096 +
		       /* the operator's lines: workers, Stripe by endpoint and kind, pushes, webhooks */
		       2048 +
		       /* creditd_tx_retries_total: its help and a line per reason */
		       256 + LIMIT_METRICS_TX_REASONS * 96 <=
		       LIMIT_METRICS_TEXT_BYTES,
	       "the metrics text of the most routes, names, counts and nodes must fit its cap");
_Static_assert(LIMIT_BALANCE_MICROS_MAX <= 9223372036854775807LL - LIMIT_AMOUNT_MICROS_MAX - LIMIT_SETTING_MICROS_MAX,
	       "a counter in range plus one charge plus an overdraft must fit int64");
_Static_assert(LIMIT_AMOUNT_MICROS_MAX <= LIMIT_SETTING_MICROS_MAX, "a limit can be set above any one charge");
_Static_assert(LIMIT_TOKENS_MAX <= 1000000000LL, "at most 10^9 tokens in one call (docs/api.md)");
_Static_assert((__int128)LIMIT_TOKENS_MAX * 9223372036854775807LL * 4 * 1000000 < ((__int128)1 << 126),
	       "tokens times any int64 price times a margin stay inside 128 bits (four terms: uncached, cached, "
	       "cache-write input and output)");
_Static_assert(LIMIT_X_REQUEST_ID_RANDOM_BYTES <= LIMIT_RANDOM_ID_POOL_BYTES, "a request id is drawn from one pool");
_Static_assert(2 * LIMIT_X_REQUEST_ID_RANDOM_BYTES <= LIMIT_X_REQUEST_ID_BYTES,
	       "a request id creditd makes must be one it would accept");
_Static_assert(sizeof("hold_") - 1 + 19 + 1 + 19 < LIMIT_HOLD_ID_BYTES, "every hold id, with its NUL, must fit");
_Static_assert(LIMIT_HOLD_ID_BYTES <= 255, "a hold id is kept in journal.reference, VARCHAR(255)");
/* The event push (notify.c): events claimed per round (each one POST, sent
 * in turn by one thread under one lease, so few), and the longest wait
 * between two attempts of one event (the backoff doubles from 1 s). */
#define LIMIT_NOTIFY_BATCH 4
#define LIMIT_NOTIFY_BACKOFF_MAX_SECONDS 3600
/* Alerts by email (mail.c): an address (RFC 5321's path less <>); mails a
 * round (one SMTP session each, one lease); events read past the cursor a
 * round; the longest backoff; a mail's bytes (64 KiB of event data, shown
 * twice, escaped); one SMTP session's time. */
#define LIMIT_EMAIL_BYTES 254
#define LIMIT_MAIL_BATCH 4
#define LIMIT_MAIL_SCAN_EVENTS 500
#define LIMIT_MAIL_BACKOFF_MAX_SECONDS 3600
#define LIMIT_MAIL_BYTES (1024 * 1024)
#define LIMIT_MAIL_TIMEOUT_SECONDS 30
/* Auto-recharges (recharge.c): claimed per round (under one lease, so
 * few); tries of one whose
 * Stripe call got no answer (with Stripe's Idempotency-Key the same
 * recharge is never charged twice) before it counts as a failure; the
 * longest wait between two tries. */
#define LIMIT_RECHARGE_BATCH 4
/* A collection due while a dispute is open on its account is looked at again
 * this much later (docs/pay-as-you-go.md, "While a dispute is open"): a
 * dispute takes weeks, an hour costs one indexed read an account, and a won
 * dispute's collection goes out within the hour. */
#define LIMIT_DISPUTED_CHARGE_WAIT_SECONDS 3600
/* The deployment's salt in every Idempotency-Key sent to Stripe
 * (docs/configuration.md, "key_salt"): 12 hex digits (48 bits) tell
 * deployments apart; a salt set by hand may be up to 32 characters. Stripe
 * allows keys of 255 characters. */
#define LIMIT_KEY_SALT_BYTES 32
#define LIMIT_KEY_SALT_DERIVED_HEX 12
_Static_assert(LIMIT_KEY_SALT_DERIVED_HEX <= LIMIT_KEY_SALT_BYTES, "a derived salt fits");
#define LIMIT_RECHARGE_ATTEMPTS 8
#define LIMIT_RECHARGE_BACKOFF_MAX_SECONDS 600
/* Pay-as-you-go collection (ledger_payg.c): accounts looked at per
 * sweep or per page of creditctl collect (each in a transaction of its
 * own; the rest at the next sweep, a second later by default); the
 * smallest debt charged, Stripe's smallest charge in EUR and USD (a
 * smaller one is refused as amount_too_small): a smaller debt waits for
 * the next month. */
#define LIMIT_PAYG_SCAN 100
#define LIMIT_PAYG_MIN_CENTS 50
/* A payment left without news (docs/api.md, "without news"): an off-session PaymentIntent
 * still with Stripe this long after it was made has had no webhook (they
 * come within seconds), so the sender fetches it; one still processing is
 * fetched again when its age has doubled (15 min, 30 min, 1 h, ...), at
 * most this far apart, and left (logged) once this old: a bank debit can
 * take days, and the webhook may still come. */
#define LIMIT_PAYMENT_NEWS_SECONDS 900
#define LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS (6 * 3600)
#define LIMIT_PAYMENT_NEWS_GIVE_UP_SECONDS (3 * 86400)
_Static_assert(LIMIT_PAYMENT_NEWS_SECONDS < LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS, "the backoff grows");
_Static_assert(LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS < LIMIT_PAYMENT_NEWS_GIVE_UP_SECONDS,
	       "a payment still processing is fetched more than once before it is left");
/* recharges.error is VARCHAR(500): Stripe's message is cut to fit. */
#define LIMIT_RECHARGE_ERROR_BYTES 500
/* Disputes of one payment that a refund or a late credit handles at once:
 * Stripe disputes a charge once, and a payment intent has one succeeded
 * charge; more are left as they are (and creditctl verify says so). */
#define LIMIT_DISPUTES_PER_PAYMENT 4
/* Browser tokens (docs/api.md, "Widget"): ttl_seconds 60–3600, 900 when not given. A
 * token is checked without the database, so it is short-lived instead. */
#define LIMIT_BROWSER_TOKEN_TTL_MIN 60
#define LIMIT_BROWSER_TOKEN_TTL_MAX 3600
#define LIMIT_BROWSER_TOKEN_TTL_DEFAULT 900
/* Reconciliation with the provider (creditctl reconcile, docs/reconciliation.md).
 * A provider's usage report file is read whole: a page of a month of
 * daily buckets by model is tens of KiB, a year of them a few MiB. */
#define LIMIT_RECONCILE_FILE_BYTES (32 * 1024 * 1024)
/* A CSV line of the report (date, model, four numbers). */
#define LIMIT_RECONCILE_LINE_BYTES 1024
/* Day × model rows on either side: a year of 200 models is 73,200. More
 * is refused (narrow --from/--to), never cut. */
#define LIMIT_RECONCILE_ROWS 100000
/* The period a run covers: a year and a day (a leap year's 366 days). */
#define LIMIT_RECONCILE_DAYS 366
/* Expired unsettled holds listed; more are counted, not listed. */
#define LIMIT_RECONCILE_HOLDS 10000
/* A provider's model name (price_aliases.provider_name is VARCHAR(128)). */
#define LIMIT_PROVIDER_MODEL_BYTES 128
/* Aliases read at once: a deployment maps a handful of names. */
#define LIMIT_PRICE_ALIASES 1024
_Static_assert(LIMIT_RECONCILE_DAYS * 200 < LIMIT_RECONCILE_ROWS, "a year of 200 models fits");
_Static_assert(LIMIT_PURGE_BATCH >= 1 && LIMIT_PURGE_BATCHES >= 1, "a sweep purges something");
_Static_assert(LIMIT_STRIPE_EVENTS_MIN_DAYS <= LIMIT_RETENTION_MAX_DAYS, "some stripe_events_days is allowed");
/* The gateway's limits (docs/gateway.md): a file of their own beside this
 * one, for its length; every file that includes this one has them. */
#include "limits_gateway.h"
#endif
