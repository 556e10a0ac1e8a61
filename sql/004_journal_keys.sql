-- 004_journal_keys.sql: every journal row carries the request's
-- Idempotency-Key, settles included (creditd_settle_commit passed NULL),
-- and a spend may name its source: 'forced' marks POST /v1/usage with
-- "force": true, the one charge besides a settle beyond its hold that may
-- take an account past its overdraft or monthly limit (creditctl verify
-- accepts it by that mark).
DROP PROCEDURE creditd_spend_select;
DROP PROCEDURE creditd_settle_commit;
DROP PROCEDURE creditd_spend;

CREATE PROCEDURE creditd_spend(IN p_account BIGINT UNSIGNED, IN p_amount BIGINT, IN p_balance_after BIGINT,
                               IN p_cause VARCHAR(16), IN p_source VARCHAR(32), IN p_hold BIGINT UNSIGNED,
                               IN p_reference VARCHAR(255), IN p_description VARCHAR(500),
                               IN p_idem_key VARBINARY(255), IN p_now BIGINT)
  MODIFIES SQL DATA
BEGIN
  -- Burns p_amount (> 0) from the account's grants: priority (lower first),
  -- then the soonest expiry, then the oldest. What the grants cannot cover
  -- becomes debt on the account's single debt row. Appends one journal row.
  -- One grant at a time, the first in spending order, burnt by one UPDATE
  -- that also says how much it took (a burnt grant drops out of the next
  -- one). No cursor: it would copy every grant into a temporary table.
  DECLARE v_todo BIGINT DEFAULT p_amount;
  burn: LOOP
    IF v_todo <= 0 THEN LEAVE burn; END IF;
    SET @creditd_take = 0;
    UPDATE grants SET remaining_micros = remaining_micros - (@creditd_take := LEAST(remaining_micros, v_todo))
     WHERE account_id = p_account AND remaining_micros > 0
     ORDER BY priority, expires_at IS NULL, expires_at, id LIMIT 1;
    IF ROW_COUNT() = 0 THEN LEAVE burn; END IF;
    SET v_todo = v_todo - @creditd_take;
  END LOOP;
  IF v_todo > 0 THEN
    UPDATE grants SET remaining_micros = remaining_micros - v_todo
     WHERE account_id = p_account AND source = 'debt';
    IF ROW_COUNT() = 0 THEN
      INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, expires_at,
                          reference, description, created_at)
      VALUES (p_account, 'debt', 0, -v_todo, 0, NULL, NULL, 'debt carried by the account', p_now);
    END IF;
  END IF;
  INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, hold_id,
                       reference, idempotency_key, description, created_at)
  VALUES (p_account, -p_amount, p_balance_after, p_cause, p_source, NULL, p_hold, p_reference, p_idem_key,
          p_description, p_now);
END;

CREATE PROCEDURE creditd_spend_select(IN p_account BIGINT UNSIGNED, IN p_amount BIGINT, IN p_balance_after BIGINT,
                                      IN p_cause VARCHAR(16), IN p_source VARCHAR(32), IN p_hold BIGINT UNSIGNED,
                                      IN p_reference VARCHAR(255), IN p_description VARCHAR(500),
                                      IN p_idem_key VARBINARY(255), IN p_now BIGINT)
  MODIFIES SQL DATA
BEGIN
  -- creditd_spend for a caller that needs the journal row's id back.
  CALL creditd_spend(p_account, p_amount, p_balance_after, p_cause, p_source, p_hold, p_reference, p_description,
                     p_idem_key, p_now);
  SELECT LAST_INSERT_ID();
END;

CREATE PROCEDURE creditd_settle_commit(IN p_account BIGINT UNSIGNED, IN p_hold BIGINT UNSIGNED, IN p_spend BIGINT,
                                       IN p_reference VARCHAR(255), IN p_now BIGINT, IN p_member VARBINARY(128),
                                       IN p_model VARCHAR(64), IN p_action VARCHAR(64), IN p_input BIGINT,
                                       IN p_cached BIGINT, IN p_output BIGINT, IN p_cost BIGINT, IN p_byok TINYINT,
                                       IN p_request_id VARBINARY(128), IN p_conversation VARBINARY(128),
                                       IN p_settle_hash BINARY(32), IN p_response VARBINARY(2048),
                                       IN p_balance BIGINT, IN p_reserved BIGINT, IN p_month_key INT,
                                       IN p_month_spent BIGINT, IN p_sweep_due BIGINT, IN p_idem_key VARBINARY(255),
                                       IN p_commit TINYINT)
  MODIFIES SQL DATA
BEGIN
  -- Charges a settle the caller priced (p_spend may be 0), records its
  -- usage, marks the hold settled with its answer, stores the account and
  -- commits when p_commit.
  IF p_spend > 0 THEN
    CALL creditd_spend(p_account, p_spend, p_balance, 'usage', NULL, p_hold, p_reference, NULL, p_idem_key, p_now);
  END IF;
  INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens,
                             cached_input_tokens, output_tokens, cost_micros, byok, request_id, conversation_id,
                             request_hash, created_at)
  VALUES (p_account, p_hold, NULL, p_member, p_model, p_action, p_input, p_cached, p_output, p_cost, p_byok,
          p_request_id, p_conversation, NULL, p_now);
  UPDATE holds SET state = 'settled', charged_micros = p_cost, settle_hash = p_settle_hash,
                   settle_response = p_response, finished_at = p_now
   WHERE id = p_hold;
  UPDATE accounts SET balance_micros = p_balance, reserved_micros = p_reserved, month_key = p_month_key,
                      month_spent_micros = p_month_spent, sweep_due_at = p_sweep_due
   WHERE id = p_account;
  IF p_commit THEN
    COMMIT;
  END IF;
END;
