-- floor.sql: the bench's database floor (bench/README.md, row D). Two
-- procedures that do, inside MariaDB, the work of creditd's authorize and
-- settle transactions as bench/rawdb's statements version does them one
-- round trip at a time: the same locks in the same order, the same rows
-- written, and a COMMIT at the end (durable: the bench's MariaDB runs with
-- innodb_flush_log_at_trx_commit=1). `rawdb --sql call` runs each
-- transaction as one CALL, so a pair costs two round trips and nothing
-- else: what the database itself can do.
--
-- They belong to the bench, never to creditd's schema: bench/run.sh creates
-- them in its private database as the schema's owner (the runtime user has
-- no CREATE ROUTINE), and they run with the caller's rights (SQL SECURITY
-- INVOKER), so they do nothing the runtime user could not. Their rows keep
-- the invariants `creditctl verify` checks, as rawdb's other versions do.
--
-- Each answers one row: status (0 done; otherwise rawdb's own error
-- numbers: 1 not found, 2 refused, 3 hold not pending, 4 would go into
-- debt; the transaction is rolled back), then what the caller needs.
-- Deadlocks and lock wait timeouts end the CALL with MariaDB's error, and
-- rawdb retries the whole transaction as creditd does.

DELIMITER //

CREATE OR REPLACE PROCEDURE bench_floor_authorize(IN p_account VARBINARY(128), IN p_request_id VARBINARY(128),
                                                  IN p_model VARCHAR(64), IN p_amount BIGINT,
                                                  IN p_ttl_seconds BIGINT, IN p_now BIGINT)
  MODIFIES SQL DATA SQL SECURITY INVOKER
proc: BEGIN
  -- Locks the account by its external id, rolls its month over, refuses
  -- what it cannot afford, writes the hold and the account's new reserve.
  -- Answers (status, hold id, account id).
  DECLARE v_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_status VARCHAR(16);
  DECLARE v_balance, v_reserved, v_overdraft, v_limit, v_spent, v_due, v_expires BIGINT;
  DECLARE v_hold BIGINT UNSIGNED;
  DECLARE v_month INT;
  DECLARE v_month_now INT DEFAULT EXTRACT(YEAR_MONTH FROM TIMESTAMP '1970-01-01 00:00:00' + INTERVAL p_now SECOND);
  SELECT id, status, balance_micros, reserved_micros, overdraft_limit_micros, monthly_limit_micros, month_key,
         month_spent_micros, sweep_due_at
    INTO v_id, v_status, v_balance, v_reserved, v_overdraft, v_limit, v_month, v_spent, v_due
    FROM accounts WHERE ext_id = p_account FOR UPDATE;
  IF v_id IS NULL THEN
    ROLLBACK;
    SELECT 1 AS status, 0 AS hold_id, 0 AS account_id;
    LEAVE proc;
  END IF;
  IF v_month <> v_month_now THEN
    SET v_month = v_month_now, v_spent = 0;
  END IF;
  IF v_status <> 'active' OR p_amount > v_balance - v_reserved + v_overdraft
     OR (v_limit IS NOT NULL AND v_spent + v_reserved + p_amount > v_limit) THEN
    ROLLBACK;
    SELECT 2 AS status, 0 AS hold_id, v_id AS account_id;
    LEAVE proc;
  END IF;
  SET v_expires = p_now + p_ttl_seconds;
  INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros, byok,
                     expires_at, created_at)
  VALUES (v_id, p_request_id, NULL, p_model, NULL, NULL, p_amount, 0, v_expires, p_now);
  SET v_hold = LAST_INSERT_ID();
  IF v_due IS NULL OR v_expires < v_due THEN
    SET v_due = v_expires;
  END IF;
  UPDATE accounts SET balance_micros = v_balance, reserved_micros = v_reserved + p_amount, month_key = v_month,
                      month_spent_micros = v_spent, sweep_due_at = v_due
   WHERE id = v_id;
  COMMIT;
  SELECT 0 AS status, v_hold AS hold_id, v_id AS account_id;
END //

CREATE OR REPLACE PROCEDURE bench_floor_settle(IN p_account BIGINT UNSIGNED, IN p_hold BIGINT UNSIGNED,
                                               IN p_cost BIGINT, IN p_input_tokens BIGINT,
                                               IN p_output_tokens BIGINT, IN p_settle_hash BINARY(32),
                                               IN p_now BIGINT)
  MODIFIES SQL DATA SQL SECURITY INVOKER
proc: BEGIN
  -- Locks the account and then the hold, burns p_cost from the grants in
  -- creditd's spending order (one locking read of the next spendable
  -- grant, then its UPDATE, until the cost is covered), appends the
  -- journal row, records the usage, stores the account and marks the hold
  -- settled with the answer creditd would store. Answers (status, balance
  -- after).
  DECLARE v_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_balance, v_reserved, v_overdraft, v_spent, v_due, v_amount, v_left, v_remaining, v_take BIGINT;
  DECLARE v_month INT;
  DECLARE v_month_now INT DEFAULT EXTRACT(YEAR_MONTH FROM TIMESTAMP '1970-01-01 00:00:00' + INTERVAL p_now SECOND);
  DECLARE v_state VARCHAR(16) DEFAULT NULL;
  DECLARE v_model VARCHAR(64);
  DECLARE v_request_id VARBINARY(128);
  DECLARE v_grant BIGINT UNSIGNED;
  DECLARE v_reference VARCHAR(255);
  SELECT id, balance_micros, reserved_micros, overdraft_limit_micros, month_key, month_spent_micros, sweep_due_at
    INTO v_id, v_balance, v_reserved, v_overdraft, v_month, v_spent, v_due
    FROM accounts WHERE id = p_account FOR UPDATE;
  IF v_id IS NOT NULL THEN
    SELECT state, amount_micros, model, request_id INTO v_state, v_amount, v_model, v_request_id
      FROM holds WHERE id = p_hold AND account_id = p_account FOR UPDATE;
  END IF;
  IF v_state IS NULL OR v_state <> 'pending' THEN
    ROLLBACK;
    SELECT IF(v_state IS NULL, 1, 3) AS status, 0 AS balance_micros;
    LEAVE proc;
  END IF;
  IF v_month <> v_month_now THEN
    SET v_month = v_month_now, v_spent = 0;
  END IF;
  SET v_reserved = v_reserved - v_amount, v_spent = v_spent + p_cost,
      v_reference = CONCAT('hold_', v_id, '_', p_hold);
  IF p_cost > 0 THEN
    SET v_left = p_cost;
    burn: LOOP
      SET v_grant = NULL;
      SELECT id, remaining_micros INTO v_grant, v_remaining FROM grants
       WHERE account_id = v_id AND remaining_micros > 0
       ORDER BY priority, expires_at IS NULL, expires_at, id LIMIT 1 FOR UPDATE;
      IF v_grant IS NULL THEN
        LEAVE burn;
      END IF;
      SET v_take = LEAST(v_remaining, v_left);
      UPDATE grants SET remaining_micros = v_remaining - v_take WHERE id = v_grant;
      SET v_left = v_left - v_take;
      IF v_left = 0 THEN
        LEAVE burn;
      END IF;
    END LOOP;
    IF v_left > 0 THEN
      ROLLBACK;
      SELECT 4 AS status, 0 AS balance_micros;
      LEAVE proc;
    END IF;
    INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, hold_id,
                         reference, description, created_at)
    VALUES (v_id, -p_cost, v_balance - p_cost, 'usage', NULL, NULL, p_hold, v_reference, NULL, p_now);
    SET v_balance = v_balance - p_cost;
  END IF;
  INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                             cached_input_tokens, output_tokens, cost_micros, byok, request_id, conversation_id,
                             request_hash, created_at)
  VALUES (v_id, p_hold, NULL, NULL, v_model, NULL, p_input_tokens, 0, p_output_tokens, p_cost, 0, v_request_id,
          NULL, NULL, p_now);
  UPDATE accounts SET balance_micros = v_balance, reserved_micros = v_reserved, month_key = v_month,
                      month_spent_micros = v_spent, sweep_due_at = v_due
   WHERE id = v_id;
  UPDATE holds SET state = 'settled', charged_micros = p_cost, settle_hash = p_settle_hash,
                   settle_response = CONCAT('{"hold_id":"', v_reference, '","charged_micros":', p_cost,
                                            ',"released_micros":', GREATEST(v_amount - p_cost, 0),
                                            ',"balance_micros":', v_balance,
                                            ',"available_micros":', v_balance - v_reserved + v_overdraft,
                                            ',"late":false}'),
                   finished_at = p_now
   WHERE id = p_hold;
  COMMIT;
  SELECT 0 AS status, v_balance AS balance_micros;
END //

DELIMITER ;
