-- explain.sql: the query plans of creditd's hot statements on a grown
-- ledger (bench/growth.sh runs it on the big ledger; bench/README.md,
-- "Growth", shows the output). Each statement is the one-row form the code
-- sends (sql/020_batch_calls.sql's cd_batch_read and cd_batch_write for the
-- guard; src/ledger/accounts/ledger_accounts.c, ledger_holds.c, ledger_events.c,
-- ledger_due.c, ledger_payg.c, ledger_purge.c for the rest) with the
-- heavy account's values. What to look for: no `ALL` (a table scan) and no
-- `index` (a whole index read) on a table whose rows grow with time
-- (journal, usage_records, holds, events, grants, idempotency_keys,
-- stripe_events), and `rows` bounded by one account's rows, never by the
-- ledger's. "Impossible WHERE noticed after reading const tables" is a
-- unique-key lookup that found no row (no Idempotency-Key or usage_key of
-- that name): one index read. Set @heavy before sourcing.
SET @acct = (SELECT id FROM accounts WHERE ext_id = @heavy);
SET @hold = (SELECT MAX(id) FROM holds WHERE account_id = @acct);
SET @now = UNIX_TIMESTAMP();
SET @cursor = (SELECT id FROM journal WHERE account_id = @acct ORDER BY id LIMIT 1 OFFSET 100);
SET @request = (SELECT request_id FROM holds WHERE id = @hold);

SELECT 'authorize, settle: the account locked (cd_batch_read)' AS statement;
EXPLAIN SELECT 0 AS accounts, a.* FROM cd_account_rows a WHERE a.ext_id = @heavy FOR UPDATE;
SELECT 'settle: the hold locked, with its member (cd_batch_read)' AS statement;
EXPLAIN SELECT h.id, h.state, m.member FROM holds h
	LEFT JOIN members m ON m.account_id = h.account_id AND m.member = h.member
	WHERE h.id = @hold AND h.account_id = @acct FOR UPDATE;
SELECT 'authorize: a retried request_id (cd_batch_read)' AS statement;
EXPLAIN SELECT h.id FROM accounts a STRAIGHT_JOIN holds h ON h.account_id = a.id AND h.request_id = @request
	WHERE a.ext_id = @heavy;
SELECT 'settle: the grants spent, in order (cd_batch_read)' AS statement;
EXPLAIN SELECT g.id, g.remaining_micros, g.source = 'debt' AS is_debt FROM grants g
	WHERE g.account_id = @acct AND (g.remaining_micros > 0 OR g.source = 'debt')
	ORDER BY is_debt DESC, g.priority, g.expires_at IS NULL, g.expires_at, g.id LIMIT 9;
SELECT 'any write: its Idempotency-Key (cd_batch_read)' AS statement;
EXPLAIN SELECT k.status FROM idempotency_keys k WHERE k.idem_key = 'bench-key';
SELECT 'settle: the hold written (cd_batch_write)' AS statement;
EXPLAIN UPDATE holds SET state = 'settled', charged_micros = 1, finished_at = @now WHERE id = @hold;
SELECT 'settle: a usage_key seen before (cd_batch_read)' AS statement;
EXPLAIN SELECT u.id FROM accounts a STRAIGHT_JOIN usage_records u ON u.account_id = a.id AND u.usage_key = 'k'
	WHERE a.ext_id = @heavy;

SELECT 'GET /v1/accounts/{id}/transactions: a page at a deep cursor (ledger_accounts.c)' AS statement;
EXPLAIN SELECT j.id, j.amount_micros, uh.model, uk.model, t.receipt_url FROM journal j
	LEFT JOIN usage_records uh FORCE INDEX (ix_hold) ON j.cause = 'usage' AND j.hold_id > 0 AND uh.hold_id = j.hold_id
	AND uh.account_id = j.account_id
	LEFT JOIN usage_records uk ON j.cause = 'usage' AND IFNULL(j.hold_id, 0) = 0
	AND uk.account_id = j.account_id AND uk.usage_key = j.reference
	LEFT JOIN topups t ON j.cause = 'grant' AND j.source = 'topup' AND t.session_id = j.reference
	AND t.account_id = j.account_id
	WHERE j.account_id = @acct AND j.id < @cursor ORDER BY j.id DESC LIMIT 51;
SELECT 'GET /v1/accounts/{id}/usage?group_by=day: 31 days (ledger_holds.c)' AS statement;
EXPLAIN SELECT created_at DIV 86400, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens),
	SUM(cost_micros) FROM usage_records
	WHERE account_id = @acct AND created_at >= @now - 31 * 86400 AND created_at < @now
	AND (NULL IS NULL OR member = NULL) GROUP BY 1 ORDER BY 1;
SELECT 'GET /v1/accounts/{id}/usage?group_by=model: 31 days (ledger_holds.c)' AS statement;
EXPLAIN SELECT COALESCE(model, action, ''), COUNT(*), SUM(input_tokens), SUM(cached_input_tokens),
	SUM(output_tokens), SUM(cost_micros) FROM usage_records
	WHERE account_id = @acct AND created_at >= @now - 31 * 86400 AND created_at < @now
	AND (NULL IS NULL OR member = NULL) GROUP BY 1 ORDER BY 1;

SELECT 'sweeper: accounts due (ledger_due.c)' AS statement;
EXPLAIN SELECT id FROM accounts WHERE sweep_due_at <= @now ORDER BY sweep_due_at LIMIT 64;
SELECT 'sweeper: the next pay-as-you-go accounts (ledger_payg.c)' AS statement;
EXPLAIN SELECT id FROM accounts WHERE payg_period < 202611 ORDER BY payg_period, id LIMIT 64;
SELECT 'outbox: events due (ledger_events.c)' AS statement;
EXPLAIN SELECT e.id FROM events e WHERE e.state = 'pending' AND e.next_attempt_at <= @now AND NOT EXISTS
	(SELECT 1 FROM events p WHERE p.account_id = e.account_id AND p.state = 'pending' AND p.id < e.id)
	ORDER BY e.id LIMIT 32;
SELECT 'retention: idempotency keys past 24 h (ledger_purge.c)' AS statement;
EXPLAIN DELETE FROM idempotency_keys WHERE created_at < @now - 86400 LIMIT 1000;
SELECT 'retention: Stripe event ids past stripe_events_days (ledger_purge.c)' AS statement;
EXPLAIN DELETE FROM stripe_events WHERE received_at < @now - 90 * 86400 LIMIT 1000;
SELECT 'retention: settled holds past holds_days, one state a statement (ledger_purge.c)' AS statement;
EXPLAIN DELETE FROM holds WHERE state = 'settled' AND expires_at >= 0 AND expires_at < @now - 30 * 86400
	AND finished_at < @now - 30 * 86400
	AND NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.hold_id = holds.id AND (u.cost_micros > holds.amount_micros
	OR u.created_at >= holds.expires_at)) ORDER BY expires_at LIMIT 1000;
