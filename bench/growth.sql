-- growth.sql: the loader of `./dev bench --growth` (bench/growth.sh). Makes
-- a grown ledger fast, in SQL that keeps every invariant `creditctl verify`
-- checks, the way creditd itself would have left it after a year of
-- authorize + settle pairs:
--
--   accounts   @accounts user accounts named @prefix + 7 digits, plus one
--              heavy account @heavy; each with its signup grant and the
--              grant's journal row (as POST /v1/accounts leaves them).
--   usage      one account in @active_every has @rounds settled calls; the
--              heavy account @heavy_per_round in every round. Rounds follow
--              each other in time over @span_days up to now, and inside a
--              round the accounts take turns: one account's rows lie apart
--              from each other in every table, as live traffic leaves them.
--              Each call is a usage row and its journal charge, with the
--              running balance, referring to its hold by id.
--   events     a delivered balance.low event for each active account (the
--              outbox keeps what it delivered).
--   holds      the settled holds of the last @holds_days_loaded days only
--              (older ones are what retention purges; a live ledger keeps
--              [retention] holds_days of them).
--
-- The calls cycle through three models (the stack's prices, margin 1.05):
-- gpt-4o 4,725, claude-sonnet-4-20250514 6,300, gpt-3.5-turbo 840 micros for
-- 1,000 input and 200 output tokens. Their running sum is closed-form, so
-- every row is written in one pass, in primary-key order, in chunks of
-- @chunk calls, each its own transaction.
--
-- Ids are taken above the tables' largest: the loader may run on a ledger
-- that already has rows (bench/growth.sh loads a small ledger, measures it,
-- then loads the big one beside it). Nothing else may write meanwhile.
--
-- Run as the database's root after the schema is migrated: creates the
-- procedure growth_load in the schema creditd_growth (never in creditd's),
-- then CALL creditd_growth.growth_load(...) (see the end of the file).

CREATE DATABASE IF NOT EXISTS creditd_growth;
DROP PROCEDURE IF EXISTS creditd_growth.growth_load;

DELIMITER //
CREATE PROCEDURE creditd_growth.growth_load(
	IN p_accounts BIGINT, IN p_prefix VARCHAR(16), IN p_heavy VARCHAR(64), IN p_active_every BIGINT,
	IN p_rounds BIGINT, IN p_heavy_per_round BIGINT, IN p_span_days BIGINT, IN p_holds_days_loaded BIGINT,
	IN p_chunk BIGINT)
BEGIN
	DECLARE v_now, v_start, v_span, v_month, v_abase, v_gbase, v_jbase, v_ubase, v_hbase, v_ebase BIGINT;
	DECLARE v_active, v_round, v_calls, v_from, v_holds_from BIGINT;
	DECLARE v_bonus BIGINT DEFAULT 10000000;
	DECLARE v_heavy_grant BIGINT DEFAULT 1000000000000;

	SET v_now = UNIX_TIMESTAMP();
	SET v_span = p_span_days * 86400;
	SET v_start = v_now - v_span;
	SET v_month = CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m') AS UNSIGNED);
	SET v_active = (p_accounts + p_active_every - 1) DIV p_active_every;
	SET v_round = v_active + p_heavy_per_round;
	SET v_calls = p_rounds * v_round;
	-- The calls of the last @holds_days_loaded days keep their hold rows.
	SET v_holds_from = GREATEST(0, v_calls - (v_calls * LEAST(p_holds_days_loaded, p_span_days)) DIV p_span_days);
	SELECT COALESCE(MAX(id), 0) INTO v_abase FROM creditd.accounts;
	SELECT COALESCE(MAX(id), 0) INTO v_gbase FROM creditd.grants;
	SELECT COALESCE(MAX(id), 0) INTO v_jbase FROM creditd.journal;
	SELECT COALESCE(MAX(id), 0) INTO v_ubase FROM creditd.usage_records;
	SELECT GREATEST(COALESCE(MAX(id), 0), COALESCE((SELECT MAX(hold_id) FROM creditd.usage_records), 0))
		INTO v_hbase FROM creditd.holds;

	SET SESSION unique_checks = 0, SESSION foreign_key_checks = 0;
	-- The work tables are MEMORY ones: a million accounts need ~200 MB.
	SET SESSION max_heap_table_size = 4294967296, SESSION tmp_table_size = 4294967296;

	-- Accounts: seq s is account id v_abase + s + 1; s = p_accounts is the
	-- heavy account. Their balances are what their calls leave.
	CREATE OR REPLACE TEMPORARY TABLE creditd_growth.acct (
		s BIGINT NOT NULL PRIMARY KEY, ext_id VARBINARY(128) NOT NULL, grant_micros BIGINT NOT NULL,
		calls BIGINT NOT NULL) ENGINE=MEMORY;
	INSERT INTO creditd_growth.acct
	SELECT seq, IF(seq = p_accounts, p_heavy, CONCAT(p_prefix, LPAD(seq, 7, '0'))),
	       IF(seq = p_accounts, v_heavy_grant, v_bonus),
	       IF(seq = p_accounts, p_rounds * p_heavy_per_round, IF(seq MOD p_active_every = 0, p_rounds, 0))
	FROM seq_0_to_9999999 WHERE seq <= p_accounts;

	START TRANSACTION;
	INSERT INTO creditd.accounts (id, ext_id, kind, balance_micros, month_key, create_hash, created_at)
	SELECT v_abase + s + 1, ext_id, 'user', grant_micros - creditd_growth.spent(calls), v_month,
	       UNHEX(SHA2(CONCAT('growth account ', ext_id), 256)), v_start
	FROM creditd_growth.acct ORDER BY s;
	INSERT INTO creditd.grants (id, account_id, source, amount_micros, remaining_micros, priority, reference,
	                            description, created_at)
	SELECT v_gbase + s + 1, v_abase + s + 1, 'signup_bonus', grant_micros, grant_micros - creditd_growth.spent(calls),
	       50, 'signup', 'signup bonus', v_start
	FROM creditd_growth.acct ORDER BY s;
	INSERT INTO creditd.journal (id, account_id, amount_micros, balance_after_micros, cause, source, grant_id,
	                             reference, idempotency_key, description, created_at)
	SELECT v_jbase + s + 1, v_abase + s + 1, grant_micros, grant_micros, 'grant', 'signup_bonus', v_gbase + s + 1,
	       'signup', CONCAT('signup:', ext_id), 'signup bonus', v_start
	FROM creditd_growth.acct ORDER BY s;
	-- The outbox: a delivered balance.low event for each active account,
	-- its ids from event_seq, as creditd takes them (gapless).
	SELECT last_id INTO v_ebase FROM creditd.event_seq WHERE id = 1 FOR UPDATE;
	INSERT INTO creditd.events (id, account_id, account, type, data, created_at, state, attempts, next_attempt_at,
	                            delivered_at)
	SELECT v_ebase + 1 + s DIV p_active_every, v_abase + s + 1, ext_id, 'balance.low',
	       CONCAT('{"available_micros":', grant_micros - creditd_growth.spent(calls), ',"balance_micros":',
	              grant_micros - creditd_growth.spent(calls), ',"threshold_micros":', grant_micros, '}'), v_now - 86400,
	       'delivered', 1, v_now - 86400, v_now - 86400
	FROM creditd_growth.acct WHERE s < p_accounts AND s MOD p_active_every = 0 ORDER BY s;
	UPDATE creditd.event_seq SET last_id = v_ebase + v_active WHERE id = 1;
	COMMIT;

	-- Calls: call k is round k DIV v_round, turn k MOD v_round: turns below
	-- v_active are the active accounts' (account seq turn * p_active_every,
	-- its call number the round), the rest the heavy account's.
	SET v_from = 0;
	WHILE v_from < v_calls DO
		START TRANSACTION;
		CREATE OR REPLACE TEMPORARY TABLE creditd_growth.calls ENGINE=MEMORY AS
		SELECT c.k, c.s, c.n, c.m, v_abase + c.s + 1 AS account_id, v_hbase + c.k + 1 AS hold_id,
		       v_start + (c.k * v_span) DIV v_calls AS created_at,
		       ELT(c.m + 1, 4725, 6300, 840) AS cost,
		       IF(c.s = p_accounts, v_heavy_grant, v_bonus) - creditd_growth.spent(c.n + 1) AS balance_after
		FROM (SELECT k, IF(k MOD v_round < v_active, (k MOD v_round) * p_active_every, p_accounts) AS s,
		             IF(k MOD v_round < v_active, k DIV v_round,
		                (k DIV v_round) * p_heavy_per_round + k MOD v_round - v_active) AS n,
		             IF(k MOD v_round < v_active, k DIV v_round,
		                (k DIV v_round) * p_heavy_per_round + k MOD v_round - v_active) MOD 3 AS m
		      FROM (SELECT v_from + seq AS k FROM seq_0_to_9999999
		            WHERE seq < LEAST(p_chunk, v_calls - v_from)) ks) c;
		INSERT INTO creditd.usage_records (id, account_id, hold_id, model, input_tokens, cached_input_tokens,
		                                   output_tokens, cost_micros, byok, request_id, created_at)
		SELECT v_ubase + k + 1, account_id, hold_id,
		       ELT(m + 1, 'gpt-4o', 'claude-sonnet-4-20250514', 'gpt-3.5-turbo'), 1000, 0, 200, cost, 0,
		       CONCAT('g', k), created_at
		FROM creditd_growth.calls ORDER BY k;
		INSERT INTO creditd.journal (id, account_id, amount_micros, balance_after_micros, cause, hold_id,
		                             reference, idempotency_key, created_at)
		SELECT v_jbase + p_accounts + 2 + k, account_id, -cost, balance_after, 'usage', hold_id,
		       CONCAT('hold_', account_id, '_', hold_id), CONCAT('settle:hold_', account_id, '_', hold_id),
		       created_at
		FROM creditd_growth.calls ORDER BY k;
		INSERT INTO creditd.holds (id, account_id, request_id, model, amount_micros, byok, state, expires_at,
		                           created_at, charged_micros, finished_at, max_output_tokens)
		SELECT hold_id, account_id, CONCAT('g', k), ELT(m + 1, 'gpt-4o', 'claude-sonnet-4-20250514', 'gpt-3.5-turbo'),
		       ELT(m + 1, 7875, 11025, 1313), 0, 'settled', created_at + 600, created_at, cost, created_at, 500
		FROM creditd_growth.calls WHERE k >= v_holds_from ORDER BY k;
		COMMIT;
		SET v_from = v_from + p_chunk;
	END WHILE;
	DROP TEMPORARY TABLE creditd_growth.calls;
	DROP TEMPORARY TABLE creditd_growth.acct;
	SET SESSION unique_checks = 1, SESSION foreign_key_checks = 1;
	SELECT p_accounts + 1 AS accounts, v_calls AS calls, v_calls - v_holds_from AS holds;
END//

-- What the first n calls of an account cost: the models cycle 4,725,
-- 6,300, 840 (11,865 a cycle).
DROP FUNCTION IF EXISTS creditd_growth.spent//
CREATE FUNCTION creditd_growth.spent(n BIGINT) RETURNS BIGINT DETERMINISTIC
	RETURN (n DIV 3) * 11865 + IF(n MOD 3 >= 1, 4725, 0) + IF(n MOD 3 >= 2, 6300, 0)//
DELIMITER ;
