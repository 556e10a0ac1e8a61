-- 020_batch_calls.sql: a guard batch is two CALLs.
--
-- creditd's combiner decides a batch of authorizes, settles, releases and
-- usages in C, in memory (src/ledger_decide.c), on rows these procedures
-- read and write. cd_batch_read locks and returns every row the decisions
-- need; cd_batch_write stores what they decided and commits. Both take
-- one JSON document (never SQL text made from request data) and are
-- prepared once per connection. A procedure's statements are parsed once
-- per connection, where a script's were parsed on every batch.
--
-- Every result set's first column is a constant named after what the set
-- is (accounts, holds, ...): creditd reads sets by that name, so a set
-- left out because its input was empty shifts nothing.
--
-- Column orders are creditd's readers' (src/ledger_rows.h ACCT_COLS_OF,
-- src/ledger_load.c HOLD_COLS and MEMBER_COLS): change both together.

-- p: {"lock": 0|1, "ids": [account id, ...] (ascending), "ext": [external
-- id, ...], "holds": [[hold id, account id], ...] (ascending), "reqs":
-- [[ext, request_id], ...], "members": [[ext, member], ...], "usages":
-- [[ext, usage_key], ...], "spend_ids": [account id, ...], "spend_ext":
-- [ext, ...], "page": positive grants read per account, "keys":
-- [Idempotency-Key, ...]}; all but lock optional.
-- With lock 0 (a read again inside the batch: the accounts are locked
-- already) the accounts, plan caps and stored answers are not returned.
CREATE OR REPLACE PROCEDURE cd_batch_read(IN p LONGTEXT)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_ids LONGTEXT DEFAULT '[]';
  IF JSON_LENGTH(p, '$.ext') > 0 THEN
    -- The accounts named by external id, with those named by id, in one
    -- ascending list: two batches lock their accounts in one order.
    SELECT COALESCE(JSON_ARRAYAGG(DISTINCT u.id ORDER BY u.id), '[]') INTO v_ids FROM (
      SELECT j.id FROM JSON_TABLE(p, '$.ids[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      UNION ALL
      SELECT a.id FROM JSON_TABLE(p, '$.ext[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
        STRAIGHT_JOIN accounts a ON a.ext_id = k.e) u;
  ELSEIF JSON_LENGTH(p, '$.ids') > 0 THEN
    SET v_ids = JSON_EXTRACT(p, '$.ids');
  END IF;

  IF JSON_VALUE(p, '$.lock') = 1 THEN
    -- Locked in the list's order: JSON_TABLE drives the join.
    SELECT 0 AS accounts, a.id, a.ext_id, a.kind, a.status, a.balance_micros, a.reserved_micros,
           a.overdraft_limit_micros, a.monthly_limit_micros, a.low_balance_micros, a.plan, a.month_key,
           a.month_spent_micros, a.sweep_due_at, a.created_at, a.stripe_customer_id, a.daily_limit_micros,
           a.day_key, a.day_spent_micros, a.plan_period, a.low_noted, a.depleted_noted, a.limit_month_noted,
           a.limit_day_noted, a.recharge_threshold_micros, a.recharge_amount_cents,
           a.stripe_payment_method IS NOT NULL, a.recharge_pending, a.recharge_failures, a.recharge_day_key,
           a.recharge_day_count, a.requests_per_minute, a.tokens_per_minute, a.rate_minute, a.rate_requests,
           a.rate_tokens, a.status_reason
      FROM JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
      FOR UPDATE;
    -- A member with no cap of its own is capped by its plan's: read
    -- without a lock (plans are shared; the accounts are locked).
    IF JSON_LENGTH(p, '$.members') > 0 THEN
      SELECT 0 AS plan_caps, a.id, pl.member_cap_micros
        FROM JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
        STRAIGHT_JOIN accounts a ON a.id = j.id
        STRAIGHT_JOIN plans pl ON pl.name = a.plan
       WHERE pl.member_cap_micros IS NOT NULL;
    END IF;
  END IF;

  -- The holds settled or released, each with its account (a hold of
  -- another account is not read), and their members' rows.
  IF JSON_LENGTH(p, '$.holds') > 0 THEN
    SELECT 0 AS holds, h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member,
           h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id,
           h.max_output_tokens, h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok,
           h.pin_output_micros_per_mtok, h.pin_margin_bps, h.rate_minute, h.rate_tokens,
           m.account_id, m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros, m.reserved_micros,
           m.cap_month_noted, m.requests_per_minute, m.tokens_per_minute, m.rate_minute, m.rate_requests,
           m.rate_tokens
      FROM JSON_TABLE(p, '$.holds[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', acct BIGINT UNSIGNED PATH '$[1]')) j
      STRAIGHT_JOIN holds h ON h.id = j.id AND h.account_id = j.acct
      LEFT JOIN members m ON m.account_id = h.account_id AND m.member = h.member
      FOR UPDATE;
  END IF;

  -- Authorizes' request_ids, when a batch found one held already.
  IF JSON_LENGTH(p, '$.reqs') > 0 THEN
    SELECT 0 AS hold_reqs, h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member,
           h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id,
           h.max_output_tokens, h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok,
           h.pin_output_micros_per_mtok, h.pin_margin_bps, h.rate_minute, h.rate_tokens
      FROM JSON_TABLE(p, '$.reqs[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', r VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN holds h ON h.account_id = a.id AND h.request_id = j.r;
  END IF;

  IF JSON_LENGTH(p, '$.members') > 0 THEN
    SELECT 0 AS members, m.account_id, m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros,
           m.reserved_micros, m.cap_month_noted, m.requests_per_minute, m.tokens_per_minute, m.rate_minute,
           m.rate_requests, m.rate_tokens
      FROM JSON_TABLE(p, '$.members[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', n VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN members m ON m.account_id = a.id AND m.member = j.n
      FOR UPDATE;
  END IF;

  IF JSON_LENGTH(p, '$.usages') > 0 THEN
    SELECT 0 AS usages, u.id, u.account_id, u.usage_key, u.cost_micros, u.request_hash
      FROM JSON_TABLE(p, '$.usages[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', k VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN usage_records u ON u.account_id = a.id AND u.usage_key = j.k;
  END IF;

  -- The grants of the accounts that may spend, in spending order (src/
  -- ledger_rows.h GRANTS_SPEND_ORDER), each account's debt row last: a
  -- page of at most $.page positive grants per account (creditd reads the
  -- next page when a charge burns them all).
  IF JSON_LENGTH(p, '$.spend_ids') > 0 OR JSON_LENGTH(p, '$.spend_ext') > 0 THEN
    SELECT 0 AS grants, t.id, t.account_id, t.remaining_micros, t.is_debt
      FROM (SELECT g.id, g.account_id, g.remaining_micros, g.source = 'debt' AS is_debt, g.priority, g.expires_at,
                   ROW_NUMBER() OVER (PARTITION BY g.account_id, g.source = 'debt'
                                      ORDER BY g.priority, g.expires_at IS NULL, g.expires_at, g.id) AS n
              FROM (SELECT j.id FROM JSON_TABLE(p, '$.spend_ids[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
                    UNION
                    SELECT a.id FROM JSON_TABLE(p, '$.spend_ext[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
                      STRAIGHT_JOIN accounts a ON a.ext_id = k.e) s
              STRAIGHT_JOIN grants g ON g.account_id = s.id
             WHERE g.remaining_micros > 0 OR g.source = 'debt') t
     WHERE t.n <= COALESCE(JSON_VALUE(p, '$.page'), 65)
     ORDER BY t.account_id, t.is_debt, t.priority, t.expires_at IS NULL, t.expires_at, t.id;
  END IF;

  IF JSON_VALUE(p, '$.lock') = 1 AND JSON_LENGTH(p, '$.keys') > 0 THEN
    SELECT 0 AS idem_keys, k.idem_key, k.request_hash, k.status, k.response
      FROM JSON_TABLE(p, '$.keys[*]' COLUMNS (k VARBINARY(255) PATH '$')) j
      STRAIGHT_JOIN idempotency_keys k ON k.idem_key = j.k;
  END IF;
END;

-- p: {"now": unix seconds, and each optional:
--   "holds_new": [[account, request_id, member, model, action, conversation, amount, max_output,
--                  pin_input, pin_cached, pin_output, pin_margin, rate_minute, rate_tokens, byok,
--                  expires_at], ...],
--   "usages_new": [[account, hold, usage_key, member, model, action, input, cached, output, cost, byok,
--                   request_id, conversation, request_hash hex], ...]  (ids returned, in order),
--   "usages": [[...the same...], ...]  (a settle's: no id needed),
--   "holds_set": [[id, state, charged, settle_hash hex, settle_response], ...],
--   "grants_set": [[id, remaining], ...], "debts": [[account, remaining], ...],
--   "journal": [[account, amount, balance_after, cause, source, hold, reference, idempotency_key], ...]
--              (inserted in this order),
--   "members": [[account, member, month_key, month_spent, reserved, cap_month_noted, rate_minute,
--                rate_requests, rate_tokens], ...],
--   "accounts": [[id, balance, reserved, month_key, month_spent, sweep_due_at, day_key, day_spent,
--                 low_noted, depleted_noted, limit_month_noted, limit_day_noted, recharge_pending,
--                 recharge_day_key, recharge_day_count, rate_minute, rate_requests, rate_tokens], ...],
--   "events": [[account, ext_id, type, data], ...], "recharges": [[account, amount_cents], ...],
--   "keys": [[idem_key, request_hash hex, status, response, new hold index, new usage index], ...]}
-- A stored answer naming a hold or usage made here gets its id written
-- in ($.hold_id "hold_<account>_<id>", $.usage_id "usage_<id>").
-- Returns the new holds' ids (new_holds: index, id) and the new usages'
-- (new_usages: index, id). Commits when do_commit is 1.
CREATE OR REPLACE PROCEDURE cd_batch_write(IN p LONGTEXT, IN do_commit TINYINT)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_now BIGINT DEFAULT JSON_VALUE(p, '$.now');
  DECLARE v_uids LONGTEXT DEFAULT '[]';
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_n INT;

  IF JSON_LENGTH(p, '$.holds_new') > 0 THEN
    INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros,
                       max_output_tokens, pin_input_micros_per_mtok, pin_cached_input_micros_per_mtok,
                       pin_output_micros_per_mtok, pin_margin_bps, rate_minute, rate_tokens, byok, expires_at,
                       created_at)
    SELECT j.acct, j.req, j.member, j.model, j.action, j.conv, j.amount, j.max_out, j.pin_in, j.pin_cached,
           j.pin_out, j.pin_margin, j.rate_minute, j.rate_tokens, j.byok, j.expires, v_now
      FROM JSON_TABLE(p, '$.holds_new[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]',
             member VARBINARY(128) PATH '$[2]', model VARCHAR(64) PATH '$[3]', action VARCHAR(64) PATH '$[4]',
             conv VARBINARY(128) PATH '$[5]', amount BIGINT PATH '$[6]', max_out BIGINT PATH '$[7]',
             pin_in BIGINT PATH '$[8]', pin_cached BIGINT PATH '$[9]', pin_out BIGINT PATH '$[10]',
             pin_margin BIGINT PATH '$[11]', rate_minute BIGINT PATH '$[12]', rate_tokens BIGINT PATH '$[13]',
             byok TINYINT PATH '$[14]', expires BIGINT PATH '$[15]')) j
     ORDER BY j.o;
  END IF;

  -- Usages of POST /v1/usage, one at a time: each id is answered.
  SET v_n = COALESCE(JSON_LENGTH(p, '$.usages_new'), 0);
  WHILE v_i < v_n DO
    INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                               cached_input_tokens, output_tokens, cost_micros, byok, request_id,
                               conversation_id, request_hash, created_at)
    SELECT j.acct, j.hold, j.ukey, j.member, j.model, j.action, j.inp, j.cached, j.outp, j.cost, j.byok, j.req,
           j.conv, UNHEX(j.hash), v_now
      FROM JSON_TABLE(JSON_EXTRACT(p, CONCAT('$.usages_new[', v_i, ']')), '$' COLUMNS (
             acct BIGINT UNSIGNED PATH '$[0]', hold BIGINT UNSIGNED PATH '$[1]', ukey VARBINARY(128) PATH '$[2]',
             member VARBINARY(128) PATH '$[3]', model VARCHAR(64) PATH '$[4]', action VARCHAR(64) PATH '$[5]',
             inp BIGINT PATH '$[6]', cached BIGINT PATH '$[7]', outp BIGINT PATH '$[8]', cost BIGINT PATH '$[9]',
             byok TINYINT PATH '$[10]', req VARBINARY(128) PATH '$[11]', conv VARBINARY(128) PATH '$[12]',
             hash VARCHAR(64) PATH '$[13]')) j;
    SET v_uids = JSON_ARRAY_APPEND(v_uids, '$', LAST_INSERT_ID());
    SET v_i = v_i + 1;
  END WHILE;

  IF JSON_LENGTH(p, '$.usages') > 0 THEN
    INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                               cached_input_tokens, output_tokens, cost_micros, byok, request_id,
                               conversation_id, request_hash, created_at)
    SELECT j.acct, j.hold, j.ukey, j.member, j.model, j.action, j.inp, j.cached, j.outp, j.cost, j.byok, j.req,
           j.conv, UNHEX(j.hash), v_now
      FROM JSON_TABLE(p, '$.usages[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', hold BIGINT UNSIGNED PATH '$[1]',
             ukey VARBINARY(128) PATH '$[2]', member VARBINARY(128) PATH '$[3]', model VARCHAR(64) PATH '$[4]',
             action VARCHAR(64) PATH '$[5]', inp BIGINT PATH '$[6]', cached BIGINT PATH '$[7]',
             outp BIGINT PATH '$[8]', cost BIGINT PATH '$[9]', byok TINYINT PATH '$[10]',
             req VARBINARY(128) PATH '$[11]', conv VARBINARY(128) PATH '$[12]', hash VARCHAR(64) PATH '$[13]')) j
     ORDER BY j.o;
  END IF;

  IF JSON_LENGTH(p, '$.holds_set') > 0 THEN
    UPDATE JSON_TABLE(p, '$.holds_set[*]' COLUMNS (
             id BIGINT UNSIGNED PATH '$[0]', state VARCHAR(16) PATH '$[1]', charged BIGINT PATH '$[2]',
             hash VARCHAR(64) PATH '$[3]', resp VARBINARY(2048) PATH '$[4]')) j
      STRAIGHT_JOIN holds h ON h.id = j.id
       SET h.state = j.state, h.charged_micros = j.charged, h.settle_hash = UNHEX(j.hash),
           h.settle_response = j.resp, h.finished_at = v_now;
  END IF;

  IF JSON_LENGTH(p, '$.grants_set') > 0 THEN
    UPDATE JSON_TABLE(p, '$.grants_set[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', r BIGINT PATH '$[1]')) j
      STRAIGHT_JOIN grants g ON g.id = j.id
       SET g.remaining_micros = j.r;
  END IF;

  IF JSON_LENGTH(p, '$.debts') > 0 THEN
    INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, expires_at, reference,
                        description, created_at)
    SELECT j.acct, 'debt', 0, j.r, 0, NULL, NULL, 'debt carried by the account', v_now
      FROM JSON_TABLE(p, '$.debts[*]' COLUMNS (acct BIGINT UNSIGNED PATH '$[0]', r BIGINT PATH '$[1]')) j;
  END IF;

  IF JSON_LENGTH(p, '$.journal') > 0 THEN
    INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, hold_id,
                         reference, idempotency_key, description, created_at)
    SELECT j.acct, j.amount, j.bal_after, j.cause, j.source, NULL, j.hold, j.ref, j.ikey, NULL, v_now
      FROM JSON_TABLE(p, '$.journal[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', amount BIGINT PATH '$[1]',
             bal_after BIGINT PATH '$[2]', cause VARCHAR(16) PATH '$[3]', source VARCHAR(32) PATH '$[4]',
             hold BIGINT UNSIGNED PATH '$[5]', ref VARCHAR(255) PATH '$[6]', ikey VARBINARY(255) PATH '$[7]')) j
     ORDER BY j.o;
  END IF;

  IF JSON_LENGTH(p, '$.members') > 0 THEN
    UPDATE JSON_TABLE(p, '$.members[*]' COLUMNS (
             acct BIGINT UNSIGNED PATH '$[0]', n VARBINARY(128) PATH '$[1]', mk INT PATH '$[2]',
             spent BIGINT PATH '$[3]', reserved BIGINT PATH '$[4]', noted INT PATH '$[5]',
             rmin BIGINT PATH '$[6]', rreq BIGINT PATH '$[7]', rtok BIGINT PATH '$[8]')) j
      STRAIGHT_JOIN members m ON m.account_id = j.acct AND m.member = j.n
       SET m.month_key = j.mk, m.month_spent_micros = j.spent, m.reserved_micros = j.reserved,
           m.cap_month_noted = j.noted, m.rate_minute = j.rmin, m.rate_requests = j.rreq,
           m.rate_tokens = j.rtok;
  END IF;

  IF JSON_LENGTH(p, '$.accounts') > 0 THEN
    UPDATE JSON_TABLE(p, '$.accounts[*]' COLUMNS (
             id BIGINT UNSIGNED PATH '$[0]', bal BIGINT PATH '$[1]', res BIGINT PATH '$[2]', mk INT PATH '$[3]',
             ms BIGINT PATH '$[4]', sweep BIGINT PATH '$[5]', dk INT PATH '$[6]', ds BIGINT PATH '$[7]',
             lown TINYINT PATH '$[8]', depn TINYINT PATH '$[9]', lmn INT PATH '$[10]', ldn INT PATH '$[11]',
             rp TINYINT PATH '$[12]', rdk INT PATH '$[13]', rdc INT PATH '$[14]', rmin BIGINT PATH '$[15]',
             rreq BIGINT PATH '$[16]', rtok BIGINT PATH '$[17]')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
       SET a.balance_micros = j.bal, a.reserved_micros = j.res, a.month_key = j.mk, a.month_spent_micros = j.ms,
           a.sweep_due_at = j.sweep, a.day_key = j.dk, a.day_spent_micros = j.ds, a.low_noted = j.lown,
           a.depleted_noted = j.depn, a.limit_month_noted = j.lmn, a.limit_day_noted = j.ldn,
           a.recharge_pending = j.rp, a.recharge_day_key = j.rdk, a.recharge_day_count = j.rdc,
           a.rate_minute = j.rmin, a.rate_requests = j.rreq, a.rate_tokens = j.rtok;
  END IF;

  -- Outbox rows, each with the next id of the one sequence.
  SET v_i = 0;
  SET v_n = COALESCE(JSON_LENGTH(p, '$.events'), 0);
  WHILE v_i < v_n DO
    UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + 1) WHERE id = 1;
    INSERT INTO events (id, account_id, account, type, data, created_at, next_attempt_at)
    SELECT LAST_INSERT_ID(), j.acct, j.ext, j.type, j.data, v_now, v_now
      FROM JSON_TABLE(JSON_EXTRACT(p, CONCAT('$.events[', v_i, ']')), '$' COLUMNS (
             acct BIGINT UNSIGNED PATH '$[0]', ext VARBINARY(128) PATH '$[1]', type VARCHAR(32) PATH '$[2]',
             data TEXT PATH '$[3]')) j;
    SET v_i = v_i + 1;
  END WHILE;

  IF JSON_LENGTH(p, '$.recharges') > 0 THEN
    INSERT INTO recharges (account_id, amount_cents, next_attempt_at, created_at, updated_at)
    SELECT j.acct, j.cents, v_now, v_now, v_now
      FROM JSON_TABLE(p, '$.recharges[*]' COLUMNS (acct BIGINT UNSIGNED PATH '$[0]', cents BIGINT PATH '$[1]')) j;
  END IF;

  IF JSON_LENGTH(p, '$.holds_new') > 0 THEN
    SELECT 0 AS new_holds, j.o - 1, h.id
      FROM JSON_TABLE(p, '$.holds_new[*]' COLUMNS (
             o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN holds h ON h.account_id = j.acct AND h.request_id = j.req;
  END IF;
  IF JSON_LENGTH(v_uids) > 0 THEN
    SELECT 0 AS new_usages, j.o - 1, j.id
      FROM JSON_TABLE(v_uids, '$[*]' COLUMNS (o FOR ORDINALITY, id BIGINT UNSIGNED PATH '$')) j;
  END IF;

  IF JSON_LENGTH(p, '$.keys') > 0 THEN
    INSERT INTO idempotency_keys (idem_key, request_hash, status, response, created_at)
    SELECT j.k, UNHEX(j.hash), j.status,
           CASE WHEN j.hix IS NOT NULL THEN
                  JSON_SET(j.resp, '$.hold_id', (SELECT CONCAT('hold_', h.account_id, '_', h.id)
                    FROM JSON_TABLE(p, '$.holds_new[*]' COLUMNS (
                           o FOR ORDINALITY, acct BIGINT UNSIGNED PATH '$[0]', req VARBINARY(128) PATH '$[1]')) n
                    STRAIGHT_JOIN holds h ON h.account_id = n.acct AND h.request_id = n.req
                   WHERE n.o = j.hix + 1))
                WHEN j.uix IS NOT NULL THEN
                  JSON_SET(j.resp, '$.usage_id', CONCAT('usage_', JSON_VALUE(v_uids, CONCAT('$[', j.uix, ']'))))
                ELSE j.resp END,
           v_now
      FROM JSON_TABLE(p, '$.keys[*]' COLUMNS (
             k VARBINARY(255) PATH '$[0]', hash VARCHAR(64) PATH '$[1]', status INT PATH '$[2]',
             resp LONGTEXT PATH '$[3]', hix INT PATH '$[4]', uix INT PATH '$[5]')) j;
  END IF;

  IF do_commit = 1 THEN
    COMMIT;
  END IF;
END;
