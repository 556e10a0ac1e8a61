-- 037_guard_versions.sql: a guard write that checks what it decided on,
-- so that a batch whose rows creditd holds in memory is one round trip.
--
-- accounts gains row_version, raised by one on every update of the row
-- by a trigger (whoever writes it: creditd's guard, its other
-- operations, creditctl, another creditd, an operator's UPDATE). Every
-- money change of an account's holds and grants is also an update of the
-- account row (its reserve, its balance), so an account's row_version
-- moves whenever anything a guard decision on kept rows reads of it
-- moves. Member rows and plans' member caps are not kept (a batch that
-- names a member always reads), so they need no version.
--
-- creditd keeps the rows of the accounts its last guard batches wrote,
-- with the version each write left (src/ledger/ledger_rowcache.c). A
-- batch whose rows are all kept decides on them without cd_batch_read,
-- and its write names each account's version: the write locks the
-- accounts first and, when one is at another version, signals (SQLSTATE
-- 45000, "rows changed") before it writes anything; the batch is rolled
-- back and runs again reading its rows (docs/architecture.md, "The
-- guard's round trips").
--
-- The view cd_account_rows gains row_version last (a creditd before 037
-- reads its columns where they were). The guard's write is now
-- cd_guard_write: the version check first, then 034's cd_batch_write as it
-- is (never committing itself), then the versions the write left, then
-- the COMMIT. cd_batch_write stays for a creditd before 037 still running
-- while the fleet restarts.

ALTER TABLE accounts
  ADD COLUMN row_version BIGINT UNSIGNED NOT NULL DEFAULT 0;

CREATE TRIGGER cd_accounts_row_version BEFORE UPDATE ON accounts
  FOR EACH ROW SET NEW.row_version = OLD.row_version + 1;

CREATE OR REPLACE VIEW cd_account_rows AS
  SELECT id, ext_id, kind, status, balance_micros, reserved_micros,
         overdraft_limit_micros, monthly_limit_micros, low_balance_micros, plan, month_key,
         month_spent_micros, sweep_due_at, created_at, stripe_customer_id, daily_limit_micros,
         day_key, day_spent_micros, plan_period, low_noted, depleted_noted, limit_month_noted,
         limit_day_noted, recharge_threshold_micros, recharge_amount_cents,
         stripe_payment_method IS NOT NULL AS has_card, recharge_pending, recharge_failures, recharge_day_key,
         recharge_day_count, requests_per_minute, tokens_per_minute, rate_minute, rate_requests,
         rate_tokens, status_reason, row_version
    FROM accounts;

-- cd_guard_write: cd_batch_write's parameters (sql/034), then p_at, every
-- account of the batch in ascending id order, [[id, row_version or NULL],
-- ...]. With versions (a batch decided on rows kept, creditd names all or
-- none) the accounts are locked first, in that order (the read CALL's lock
-- order), and a version that moved, or an account gone, signals before
-- anything is written: the caller rolls back and reads. Without them
-- nothing is checked (the rows were read under their locks). Returns
-- cd_batch_write's sets, then versions (id, row_version) of every account
-- of p_at as the write left them. Commits when p_commit is 1.
CREATE OR REPLACE PROCEDURE cd_guard_write(IN p_now BIGINT, IN p_commit TINYINT, IN p_holds_new LONGTEXT,
                                           IN p_usages_new LONGTEXT, IN p_usages LONGTEXT,
                                           IN p_holds_set LONGTEXT, IN p_grants_set LONGTEXT,
                                           IN p_debts LONGTEXT, IN p_journal LONGTEXT, IN p_members LONGTEXT,
                                           IN p_accounts LONGTEXT, IN p_events LONGTEXT,
                                           IN p_recharges LONGTEXT, IN p_keys LONGTEXT, IN p_at LONGTEXT)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_id BIGINT UNSIGNED DEFAULT JSON_VALUE(p_at, '$[0][0]');
  DECLARE v_want BIGINT UNSIGNED DEFAULT JSON_VALUE(p_at, '$[0][1]');
  DECLARE v_have BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_moved INT DEFAULT 0;

  IF v_want IS NOT NULL AND JSON_LENGTH(p_at) = 1 THEN
    SELECT row_version INTO v_have FROM accounts WHERE id = v_id FOR UPDATE;
    SET v_moved = v_have IS NULL OR v_have <> v_want;
  ELSEIF v_want IS NOT NULL THEN
    -- JSON_TABLE drives the join: the accounts are locked in p_at's order.
    SELECT COUNT(*) INTO v_moved
      FROM JSON_TABLE(p_at, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', ver BIGINT UNSIGNED PATH '$[1]')) j
      LEFT JOIN accounts a ON a.id = j.id
     WHERE a.id IS NULL OR a.row_version <> j.ver
       FOR UPDATE;
  END IF;
  IF v_moved THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'cd_guard_write: rows changed since they were read';
  END IF;

  CALL cd_batch_write(p_now, 0, p_holds_new, p_usages_new, p_usages, p_holds_set, p_grants_set, p_debts,
                      p_journal, p_members, p_accounts, p_events, p_recharges, p_keys);

  IF JSON_LENGTH(p_at) = 1 THEN
    SELECT 0 AS versions, id, row_version FROM accounts WHERE id = v_id;
  ELSEIF p_at IS NOT NULL THEN
    SELECT 0 AS versions, a.id, a.row_version
      FROM JSON_TABLE(p_at, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id;
  END IF;

  IF p_commit = 1 THEN
    COMMIT;
  END IF;
END;
