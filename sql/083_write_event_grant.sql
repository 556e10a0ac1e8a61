-- 083_write_event_grant.sql: the one writer, cd_write2, whose outbox rows
-- may name a grant made by the same write. A top-up's credit writes its
-- grant, its journal row, topup.succeeded (which names the new grant's
-- id), the account's notices and the account in one CALL
-- (docs/architecture.md, "How far each operation is from one shape");
-- before, topup.succeeded was a second CALL because only the first
-- answered the grant's id.
--
-- An event row of p_events may name a grant of the same write: then
-- its data (fourth) is null, its fifth element the grant's place in
-- p_grants_new (from 0) and its sixth the data, which gets "grant_id":
-- "grant_<the id the write made>" (JSON_SET: a key of that name already
-- in the data, e.g. null, is replaced where it stands, so the data keeps
-- the sorted compact text creditd writes; JSON_COMPACT keeps it
-- compact). A place the write made no grant at refuses the whole write.
-- The data moves so that a procedure before 083, which reads four
-- elements, refuses such a row (events.data is NOT NULL) rather than
-- store an event without its grant: a creditd of 083 started before the
-- migration fails a top-up's credit (500, logged; Stripe delivers it
-- again) until the migration runs. A row of four elements (every other
-- event, and every event of a creditd before 083) is written exactly as
-- before.
--
-- Everything else is 082's, statement for statement: the same
-- parameters, the same result sets (names, columns and types), the same
-- refusal and the same locks, taken in the same order (the account
-- first): a creditd of 078 or later runs against it unchanged (an older
-- one runs this body too: cd_write hands on to cd_write2, sql/059).

CREATE OR REPLACE PROCEDURE cd_write2(IN p_now BIGINT, IN p_commit TINYINT,
                                      IN p_holds_new LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_usages_new LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_usages LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_holds_set LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_grants_set LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_debts LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_grants_new LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_journal LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_members LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_accounts LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_events LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_recharges LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_keys LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_at LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_alerts_set LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_alert_members_set LONGTEXT CHARACTER SET utf8mb4,
                                      IN p_alert_members_del LONGTEXT CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_at_id BIGINT UNSIGNED DEFAULT JSON_VALUE(p_at, '$[0][0]');
  DECLARE v_want BIGINT UNSIGNED DEFAULT JSON_VALUE(p_at, '$[0][1]');
  DECLARE v_have BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_moved INT DEFAULT 0;
  DECLARE v_uids LONGTEXT DEFAULT '[]';
  DECLARE v_gids LONGTEXT DEFAULT '[]';
  DECLARE v_journal BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_hold BIGINT UNSIGNED;
  DECLARE v_row LONGTEXT CHARACTER SET utf8mb4;
  DECLARE v_id BIGINT UNSIGNED;
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_n INT;
  DECLARE v_lone INT DEFAULT 0;
  DECLARE v_rows BIGINT DEFAULT NULL;
  DECLARE v_after BIGINT UNSIGNED;
  DECLARE v_late_hold INT DEFAULT 0;
  DECLARE v_late_versions INT DEFAULT 0;
  DECLARE v_gid BIGINT UNSIGNED;

  -- 082: one account's version is read here under its lock whether or
  -- not it is checked (a row the read CALL locked names none), and the
  -- version answered at the end is computed from it (below).
  IF JSON_LENGTH(p_at) = 1 THEN
    SELECT row_version INTO v_have FROM accounts WHERE id = v_at_id FOR UPDATE;
    SET v_moved = v_want IS NOT NULL AND (v_have IS NULL OR v_have <> v_want);
  ELSEIF v_want IS NOT NULL THEN
    -- JSON_TABLE drives the join: the accounts are locked in p_at's order.
    -- No WHERE: a row it rejected would be unlocked (READ COMMITTED).
    SELECT COALESCE(SUM(a.id IS NULL OR a.row_version <> j.ver), 0) INTO v_moved
      FROM JSON_TABLE(p_at, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', ver BIGINT UNSIGNED PATH '$[1]')) j
      LEFT JOIN accounts a ON a.id = j.id
       FOR UPDATE;
  END IF;
  IF v_moved THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'cd_write: rows changed since they were read';
  END IF;

  -- A list of one row is written by a single-row statement (the row's
  -- fields by JSON_VALUE, its key through a typed variable, so the
  -- primary key is used): a statement joining a JSON_TABLE costs about
  -- twice as much in MariaDB (a multi-table UPDATE buffers its rows in a
  -- temporary table), and one row is what a batch at one client writes.
  IF JSON_LENGTH(p_holds_new) = 1 THEN
    SET v_row = JSON_EXTRACT(p_holds_new, '$[0]');
    INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros,
                       max_output_tokens, pin_input_micros_per_mtok, pin_cached_input_micros_per_mtok,
                       pin_output_micros_per_mtok, pin_margin_bps, rate_minute, rate_tokens, byok, expires_at,
                       created_at, pin_cache_write_micros_per_mtok)
    VALUES (JSON_VALUE(v_row, '$[0]'), JSON_VALUE(v_row, '$[1]'), JSON_VALUE(v_row, '$[2]'),
            JSON_VALUE(v_row, '$[3]'), JSON_VALUE(v_row, '$[4]'), JSON_VALUE(v_row, '$[5]'),
            JSON_VALUE(v_row, '$[6]'), JSON_VALUE(v_row, '$[7]'), JSON_VALUE(v_row, '$[8]'),
            JSON_VALUE(v_row, '$[9]'), JSON_VALUE(v_row, '$[10]'), JSON_VALUE(v_row, '$[11]'),
            JSON_VALUE(v_row, '$[12]'), JSON_VALUE(v_row, '$[13]'), JSON_VALUE(v_row, '$[14]'),
            JSON_VALUE(v_row, '$[15]'), p_now, JSON_VALUE(v_row, '$[16]'));
    SET v_hold = LAST_INSERT_ID();
  ELSEIF p_holds_new IS NOT NULL THEN
    INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros,
                       max_output_tokens, pin_input_micros_per_mtok, pin_cached_input_micros_per_mtok,
                       pin_output_micros_per_mtok, pin_margin_bps, rate_minute, rate_tokens, byok, expires_at,
                       created_at, pin_cache_write_micros_per_mtok)
    SELECT j.acct, j.req, j.member, j.model, j.action, j.conv, j.amount, j.max_out, j.pin_in, j.pin_cached,
           j.pin_out, j.pin_margin, j.rate_minute, j.rate_tokens, j.byok, j.expires, p_now, j.pin_cache_write
      FROM JSON_TABLE(p_holds_new, '$[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]',
             member VARBINARY(128) PATH '$[2]', model VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[3]', action VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[4]',
             conv VARBINARY(128) PATH '$[5]', amount BIGINT PATH '$[6]', max_out BIGINT PATH '$[7]',
             pin_in BIGINT PATH '$[8]', pin_cached BIGINT PATH '$[9]', pin_out BIGINT PATH '$[10]',
             pin_margin BIGINT PATH '$[11]', rate_minute BIGINT PATH '$[12]', rate_tokens BIGINT PATH '$[13]',
             byok TINYINT PATH '$[14]', expires BIGINT PATH '$[15]', pin_cache_write BIGINT PATH '$[16]')) j
     ORDER BY j.o;
  END IF;

  -- Usages one at a time: each of POST /v1/usage's (p_usages_new), whose
  -- ids are answered, then a lone settle's (p_usages of one row). A
  -- settle batch's several usages are one statement.
  SET v_n = COALESCE(JSON_LENGTH(p_usages_new), 0);
  SET v_lone = COALESCE(JSON_LENGTH(p_usages) = 1, 0);
  WHILE v_i < v_n + v_lone DO
    SET v_row = IF(v_i < v_n, JSON_EXTRACT(p_usages_new, CONCAT('$[', v_i, ']')), JSON_EXTRACT(p_usages, '$[0]'));
    INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                               cached_input_tokens, output_tokens, cost_micros, byok, request_id,
                               conversation_id, request_hash, created_at, cache_write_input_tokens, settle_reason,
                               base_cost_micros)
    VALUES (JSON_VALUE(v_row, '$[0]'), JSON_VALUE(v_row, '$[1]'), JSON_VALUE(v_row, '$[2]'),
            JSON_VALUE(v_row, '$[3]'), JSON_VALUE(v_row, '$[4]'), JSON_VALUE(v_row, '$[5]'),
            JSON_VALUE(v_row, '$[6]'), JSON_VALUE(v_row, '$[7]'), JSON_VALUE(v_row, '$[8]'),
            JSON_VALUE(v_row, '$[9]'), JSON_VALUE(v_row, '$[10]'), JSON_VALUE(v_row, '$[11]'),
            JSON_VALUE(v_row, '$[12]'), UNHEX(JSON_VALUE(v_row, '$[13]')), p_now,
            COALESCE(JSON_VALUE(v_row, '$[14]'), 0), JSON_VALUE(v_row, '$[15]'), JSON_VALUE(v_row, '$[16]'));
    IF v_i < v_n THEN
      SET v_uids = JSON_ARRAY_APPEND(v_uids, '$', LAST_INSERT_ID());
    END IF;
    SET v_i = v_i + 1;
  END WHILE;

  IF JSON_LENGTH(p_usages) > 1 THEN
    INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                               cached_input_tokens, output_tokens, cost_micros, byok, request_id,
                               conversation_id, request_hash, created_at, cache_write_input_tokens, settle_reason,
                               base_cost_micros)
    SELECT j.acct, j.hold, j.ukey, j.member, j.model, j.action, j.inp, j.cached, j.outp, j.cost, j.byok, j.req,
           j.conv, UNHEX(j.hash), p_now, COALESCE(j.cache_write, 0), j.reason, j.base
      FROM JSON_TABLE(p_usages, '$[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', hold BIGINT UNSIGNED PATH '$[1]',
             ukey VARBINARY(128) PATH '$[2]', member VARBINARY(128) PATH '$[3]', model VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[4]',
             action VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[5]', inp BIGINT PATH '$[6]', cached BIGINT PATH '$[7]',
             outp BIGINT PATH '$[8]', cost BIGINT PATH '$[9]', byok TINYINT PATH '$[10]',
             req VARBINARY(128) PATH '$[11]', conv VARBINARY(128) PATH '$[12]', hash VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[13]',
             cache_write BIGINT PATH '$[14]', reason VARCHAR(32) CHARACTER SET utf8mb4 PATH '$[15]',
             base BIGINT PATH '$[16]')) j
     ORDER BY j.o;
  END IF;

  IF JSON_LENGTH(p_holds_set) = 1 THEN
    SET v_row = JSON_EXTRACT(p_holds_set, '$[0]'), v_id = JSON_VALUE(v_row, '$[0]');
    UPDATE holds SET state = JSON_VALUE(v_row, '$[1]'), charged_micros = JSON_VALUE(v_row, '$[2]'),
                     settle_hash = UNHEX(JSON_VALUE(v_row, '$[3]')), settle_response = JSON_VALUE(v_row, '$[4]'),
                     finished_at = p_now
     WHERE id = v_id;
  ELSEIF p_holds_set IS NOT NULL THEN
    UPDATE JSON_TABLE(p_holds_set, '$[*]' COLUMNS (
             id BIGINT UNSIGNED PATH '$[0]', state VARCHAR(16) CHARACTER SET utf8mb4 PATH '$[1]', charged BIGINT PATH '$[2]',
             hash VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[3]', resp VARBINARY(2048) PATH '$[4]')) j
      STRAIGHT_JOIN holds h ON h.id = j.id
       SET h.state = j.state, h.charged_micros = j.charged, h.settle_hash = UNHEX(j.hash),
           h.settle_response = j.resp, h.finished_at = p_now;
  END IF;

  IF JSON_LENGTH(p_grants_set) = 1 THEN
    SET v_id = JSON_VALUE(p_grants_set, '$[0][0]');
    UPDATE grants SET remaining_micros = JSON_VALUE(p_grants_set, '$[0][1]') WHERE id = v_id;
  ELSEIF p_grants_set IS NOT NULL THEN
    UPDATE JSON_TABLE(p_grants_set, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', r BIGINT PATH '$[1]')) j
      STRAIGHT_JOIN grants g ON g.id = j.id
       SET g.remaining_micros = j.r;
  END IF;

  IF p_debts IS NOT NULL THEN
    INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, expires_at, reference,
                        description, created_at)
    SELECT j.acct, 'debt', 0, j.r, 0, NULL, NULL, 'debt carried by the account', p_now
      FROM JSON_TABLE(p_debts, '$[*]' COLUMNS (acct BIGINT UNSIGNED PATH '$[0]', r BIGINT PATH '$[1]')) j;
  END IF;

  -- New grants one at a time, their ids answered in order.
  SET v_i = 0;
  SET v_n = COALESCE(JSON_LENGTH(p_grants_new), 0);
  WHILE v_i < v_n DO
    SET v_row = JSON_EXTRACT(p_grants_new, CONCAT('$[', v_i, ']'));
    INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, expires_at, reference,
                        description, created_at)
    VALUES (JSON_VALUE(v_row, '$[0]'), JSON_VALUE(v_row, '$[1]'), JSON_VALUE(v_row, '$[2]'),
            JSON_VALUE(v_row, '$[3]'), JSON_VALUE(v_row, '$[4]'), JSON_VALUE(v_row, '$[5]'),
            JSON_VALUE(v_row, '$[6]'), JSON_VALUE(v_row, '$[7]'), p_now);
    SET v_gids = JSON_ARRAY_APPEND(v_gids, '$', LAST_INSERT_ID());
    SET v_i = v_i + 1;
  END WHILE;

  IF JSON_LENGTH(p_journal) = 1 THEN
    SET v_row = JSON_EXTRACT(p_journal, '$[0]');
    INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, hold_id,
                         reference, idempotency_key, description, created_at, actor)
    VALUES (JSON_VALUE(v_row, '$[0]'), JSON_VALUE(v_row, '$[1]'), JSON_VALUE(v_row, '$[2]'),
            JSON_VALUE(v_row, '$[3]'), JSON_VALUE(v_row, '$[4]'),
            IF(JSON_VALUE(v_row, '$[8]') < 0, JSON_VALUE(v_gids, CONCAT('$[', -1 - JSON_VALUE(v_row, '$[8]'), ']')),
               JSON_VALUE(v_row, '$[8]')),
            JSON_VALUE(v_row, '$[5]'), JSON_VALUE(v_row, '$[6]'), JSON_VALUE(v_row, '$[7]'),
            JSON_VALUE(v_row, '$[9]'), p_now, JSON_VALUE(v_row, '$[10]'));
    SET v_journal = LAST_INSERT_ID();
  ELSEIF p_journal IS NOT NULL THEN
    INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, hold_id,
                         reference, idempotency_key, description, created_at, actor)
    SELECT j.acct, j.amount, j.bal_after, j.cause, j.source,
           IF(j.gid < 0, JSON_VALUE(v_gids, CONCAT('$[', -1 - j.gid, ']')), j.gid), j.hold, j.ref, j.ikey, j.descr,
           p_now, j.actor
      FROM JSON_TABLE(p_journal, '$[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', amount BIGINT PATH '$[1]',
             bal_after BIGINT PATH '$[2]', cause VARCHAR(16) CHARACTER SET utf8mb4 PATH '$[3]', source VARCHAR(32) CHARACTER SET utf8mb4 PATH '$[4]',
             hold BIGINT UNSIGNED PATH '$[5]', ref VARCHAR(255) CHARACTER SET utf8mb4 PATH '$[6]', ikey VARBINARY(255) PATH '$[7]',
             gid BIGINT PATH '$[8]', descr VARCHAR(500) CHARACTER SET utf8mb4 PATH '$[9]',
             actor VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[10]')) j
     ORDER BY j.o;
  END IF;

  IF p_members IS NOT NULL THEN
    UPDATE JSON_TABLE(p_members, '$[*]' COLUMNS (
             acct BIGINT UNSIGNED PATH '$[0]', n VARBINARY(128) PATH '$[1]', mk INT PATH '$[2]',
             spent BIGINT PATH '$[3]', reserved BIGINT PATH '$[4]', noted INT PATH '$[5]',
             rmin BIGINT PATH '$[6]', rreq BIGINT PATH '$[7]', rtok BIGINT PATH '$[8]')) j
      STRAIGHT_JOIN members m ON m.account_id = j.acct AND m.member = j.n
       SET m.month_key = j.mk, m.month_spent_micros = j.spent, m.reserved_micros = j.reserved,
           m.cap_month_noted = j.noted, m.rate_minute = j.rmin, m.rate_requests = j.rreq,
           m.rate_tokens = j.rtok;
  END IF;

  IF JSON_LENGTH(p_accounts) = 1 THEN
    SET v_row = JSON_EXTRACT(p_accounts, '$[0]'), v_id = JSON_VALUE(v_row, '$[0]');
    UPDATE accounts
       SET balance_micros = JSON_VALUE(v_row, '$[1]'), reserved_micros = JSON_VALUE(v_row, '$[2]'),
           month_key = JSON_VALUE(v_row, '$[3]'), month_spent_micros = JSON_VALUE(v_row, '$[4]'),
           sweep_due_at = JSON_VALUE(v_row, '$[5]'), day_key = JSON_VALUE(v_row, '$[6]'),
           day_spent_micros = JSON_VALUE(v_row, '$[7]'), low_noted = JSON_VALUE(v_row, '$[8]'),
           depleted_noted = JSON_VALUE(v_row, '$[9]'), limit_month_noted = JSON_VALUE(v_row, '$[10]'),
           limit_day_noted = JSON_VALUE(v_row, '$[11]'), recharge_pending = JSON_VALUE(v_row, '$[12]'),
           recharge_day_key = JSON_VALUE(v_row, '$[13]'), recharge_day_count = JSON_VALUE(v_row, '$[14]'),
           rate_minute = JSON_VALUE(v_row, '$[15]'), rate_requests = JSON_VALUE(v_row, '$[16]'),
           rate_tokens = JSON_VALUE(v_row, '$[17]'), recharge_threshold_micros = JSON_VALUE(v_row, '$[18]'),
           recharge_amount_cents = JSON_VALUE(v_row, '$[19]'), recharge_failures = JSON_VALUE(v_row, '$[20]')
     WHERE id = v_id;
    -- The rows it changed, when it is p_at's one account (1: the trigger
    -- of 037 raised row_version by one); NULL: another account's.
    SET v_rows = IF(v_id <=> v_at_id, ROW_COUNT(), NULL);
  ELSEIF p_accounts IS NOT NULL THEN
    UPDATE JSON_TABLE(p_accounts, '$[*]' COLUMNS (
             id BIGINT UNSIGNED PATH '$[0]', bal BIGINT PATH '$[1]', res BIGINT PATH '$[2]', mk INT PATH '$[3]',
             ms BIGINT PATH '$[4]', sweep BIGINT PATH '$[5]', dk INT PATH '$[6]', ds BIGINT PATH '$[7]',
             lown TINYINT PATH '$[8]', depn TINYINT PATH '$[9]', lmn INT PATH '$[10]', ldn INT PATH '$[11]',
             rp TINYINT PATH '$[12]', rdk INT PATH '$[13]', rdc INT PATH '$[14]', rmin BIGINT PATH '$[15]',
             rreq BIGINT PATH '$[16]', rtok BIGINT PATH '$[17]', rthr BIGINT PATH '$[18]',
             ramt BIGINT PATH '$[19]', rfail INT PATH '$[20]')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
       SET a.balance_micros = j.bal, a.reserved_micros = j.res, a.month_key = j.mk, a.month_spent_micros = j.ms,
           a.sweep_due_at = j.sweep, a.day_key = j.dk, a.day_spent_micros = j.ds, a.low_noted = j.lown,
           a.depleted_noted = j.depn, a.limit_month_noted = j.lmn, a.limit_day_noted = j.ldn,
           a.recharge_pending = j.rp, a.recharge_day_key = j.rdk, a.recharge_day_count = j.rdc,
           a.rate_minute = j.rmin, a.rate_requests = j.rreq, a.rate_tokens = j.rtok,
           a.recharge_threshold_micros = j.rthr, a.recharge_amount_cents = j.ramt, a.recharge_failures = j.rfail;
  END IF;

  -- 059: the alerts' states a guard batch decided (src/money/money_alert.h):
  -- an alert's own, and a member_cap_pct alert's per member (fired: its
  -- row; armed again: none).
  IF p_alerts_set IS NOT NULL THEN
    UPDATE JSON_TABLE(p_alerts_set, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', fk BIGINT PATH '$[1]')) j
      STRAIGHT_JOIN alerts al ON al.id = j.id
       SET al.fired_key = j.fk;
  END IF;
  IF p_alert_members_set IS NOT NULL THEN
    INSERT INTO alert_members (alert_id, member, fired_key)
    SELECT j.aid, j.member, j.fk
      FROM JSON_TABLE(p_alert_members_set, '$[*]' COLUMNS (
             aid BIGINT UNSIGNED PATH '$[0]', member VARBINARY(128) PATH '$[1]', fk BIGINT PATH '$[2]')) j
    ON DUPLICATE KEY UPDATE fired_key = VALUES(fired_key);
  END IF;
  IF p_alert_members_del IS NOT NULL THEN
    DELETE am FROM JSON_TABLE(p_alert_members_del, '$[*]' COLUMNS (
             aid BIGINT UNSIGNED PATH '$[0]', member VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN alert_members am ON am.alert_id = j.aid AND am.member = j.member;
  END IF;

  -- Outbox rows, each with the next id of the one sequence. 083: a row
  -- whose data is null names a grant of this write by its place (fifth)
  -- and carries its data sixth, the grant's id written into it.
  SET v_i = 0;
  SET v_n = COALESCE(JSON_LENGTH(p_events), 0);
  WHILE v_i < v_n DO
    SET v_row = JSON_EXTRACT(p_events, CONCAT('$[', v_i, ']'));
    SET v_gid = JSON_VALUE(v_gids, CONCAT('$[', JSON_VALUE(v_row, '$[4]'), ']'));
    UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + 1) WHERE id = 1;
    INSERT INTO events (id, account_id, account, type, data, created_at, next_attempt_at)
    VALUES (LAST_INSERT_ID(), JSON_VALUE(v_row, '$[0]'), JSON_VALUE(v_row, '$[1]'), JSON_VALUE(v_row, '$[2]'),
            IF(JSON_VALUE(v_row, '$[3]') IS NOT NULL, JSON_VALUE(v_row, '$[3]'),
               JSON_COMPACT(JSON_SET(JSON_VALUE(v_row, '$[5]'), '$.grant_id', CONCAT('grant_', v_gid)))),
            p_now, p_now);
    IF JSON_VALUE(v_row, '$[3]') IS NULL AND v_gid IS NULL THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'cd_write: an event names a grant the write did not make';
    END IF;
    SET v_i = v_i + 1;
  END WHILE;

  IF p_recharges IS NOT NULL THEN
    INSERT INTO recharges (account_id, amount_cents, next_attempt_at, created_at, updated_at)
    SELECT j.acct, j.cents, p_now, p_now, p_now
      FROM JSON_TABLE(p_recharges, '$[*]' COLUMNS (acct BIGINT UNSIGNED PATH '$[0]', cents BIGINT PATH '$[1]')) j;
  END IF;

  IF p_holds_new IS NOT NULL AND JSON_LENGTH(p_holds_new) = 1 THEN
    IF p_commit = 1 THEN
      SET v_late_hold = 1;
    ELSE
      SELECT 0 AS new_holds, 0, v_hold;
    END IF;
  ELSEIF p_holds_new IS NOT NULL THEN
    SELECT 0 AS new_holds, j.o - 1, h.id
      FROM JSON_TABLE(p_holds_new, '$[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN holds h ON h.account_id = j.acct AND h.request_id = j.req;
  END IF;
  IF JSON_LENGTH(v_gids) > 0 THEN
    SELECT 0 AS new_grants, j.o - 1, j.id
      FROM JSON_TABLE(v_gids, '$[*]' COLUMNS (o FOR ORDINALITY, id BIGINT UNSIGNED PATH '$')) j;
  END IF;
  IF p_commit = 0 AND v_journal IS NOT NULL THEN
    SELECT 0 AS new_journal, 0, v_journal;
  END IF;
  IF JSON_LENGTH(v_uids) > 0 THEN
    SELECT 0 AS new_usages, j.o - 1, j.id
      FROM JSON_TABLE(v_uids, '$[*]' COLUMNS (o FOR ORDINALITY, id BIGINT UNSIGNED PATH '$')) j;
  END IF;

  IF p_keys IS NOT NULL THEN
    INSERT INTO idempotency_keys (idem_key, request_hash, status, response, created_at)
    SELECT j.k, UNHEX(j.hash), j.status,
           CASE WHEN j.hix IS NOT NULL THEN
                  JSON_SET(j.resp, '$.hold_id', (SELECT CONCAT('hold_', h.account_id, '_', h.id)
                    FROM JSON_TABLE(p_holds_new, '$[*]' COLUMNS (
                           o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]')) n
                    STRAIGHT_JOIN holds h ON h.account_id = n.acct AND h.request_id = n.req
                   WHERE n.o = j.hix + 1))
                WHEN j.uix IS NOT NULL THEN
                  JSON_SET(j.resp, '$.usage_id', CONCAT('usage_', JSON_VALUE(v_uids, CONCAT('$[', j.uix, ']'))))
                ELSE j.resp END,
           p_now
      FROM JSON_TABLE(p_keys, '$[*]' COLUMNS (
             k VARBINARY(255) PATH '$[0]', hash VARCHAR(64) CHARACTER SET utf8mb4 PATH '$[1]', status INT PATH '$[2]',
             resp LONGTEXT CHARACTER SET utf8mb4 PATH '$[3]', hix INT PATH '$[4]', uix INT PATH '$[5]')) j;
  END IF;

  -- One account: its version read above under the lock this transaction
  -- still holds, raised by the update above if it was this account's
  -- (nothing else in this procedure updates an account row); read again
  -- when another account's row, or several, were written.
  IF JSON_LENGTH(p_at) = 1 AND v_have IS NOT NULL AND (p_accounts IS NULL OR v_rows IS NOT NULL) THEN
    SET v_after = v_have + COALESCE(v_rows, 0);
    IF p_commit = 1 THEN
      SET v_late_versions = 1;
    ELSE
      SELECT 0 AS versions, v_at_id AS id, v_after AS row_version;
    END IF;
  ELSEIF JSON_LENGTH(p_at) = 1 THEN
    SELECT 0 AS versions, id, row_version FROM accounts WHERE id = v_at_id FOR UPDATE;
  ELSEIF p_at IS NOT NULL THEN
    SELECT 0 AS versions, a.id, a.row_version
      FROM JSON_TABLE(p_at, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
       FOR UPDATE;
  END IF;

  IF p_commit = 1 THEN
    COMMIT;
  END IF;
  -- 082: a lone new hold's id and a version computed above read no row:
  -- when the procedure commits they are answered after the COMMIT, with
  -- its OK, so that the caller wakes once for the whole answer rather
  -- than once for the sets and again for the COMMIT's OK (MariaDB sends
  -- each result set of a CALL as it ends).
  IF v_late_hold = 1 THEN
    SELECT 0 AS new_holds, 0, v_hold;
  END IF;
  IF v_late_versions = 1 THEN
    SELECT 0 AS versions, v_at_id AS id, v_after AS row_version;
  END IF;
END;
