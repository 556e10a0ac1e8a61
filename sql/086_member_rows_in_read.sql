-- 086_member_rows_in_read.sql: a guard batch's new member rows made by
-- its read CALL (docs/architecture.md, "The guard in one shape").
--
-- A member named by an authorize or a usage with no row, on a workspace
-- whose plan caps members, gets a row so that the plan's cap binds it
-- (docs/decisions.md, "Workspaces"). Before 086 creditd made it with a
-- statement of its own after the batch's read, between the read and the
-- decisions: a third statement in a batch that otherwise sends two (its
-- read and its write). cd_batch_read (059's, unchanged but for this)
-- now makes it, under the account's lock, by the same INSERT ... SELECT,
-- before it reads the members, so the new row comes back with the others.
-- cd_batch_lock_read (043) and cd_batch_mark_read (053) call it, and do
-- the same on Galera, inside the transaction their mark covers.
--
-- A member pair carries the batch's clock ([account, member, now,
-- month_key, the month's end]); a creditd before 086 sends pairs alone,
-- which this procedure reads as before (nothing made), and makes the row
-- itself. A creditd of this version against 059's procedure finds no row
-- where one is due and fails that operation (500, logged "run creditctl
-- migrate (086)"): migrate first, then restart.

CREATE OR REPLACE PROCEDURE cd_batch_read(IN p_lock TINYINT, IN p_page INT, IN p_ids LONGTEXT CHARACTER SET utf8mb4, IN p_ext LONGTEXT CHARACTER SET utf8mb4,
                                          IN p_holds LONGTEXT CHARACTER SET utf8mb4, IN p_reqs LONGTEXT CHARACTER SET utf8mb4, IN p_members LONGTEXT CHARACTER SET utf8mb4,
                                          IN p_usages LONGTEXT CHARACTER SET utf8mb4, IN p_spend_ids LONGTEXT CHARACTER SET utf8mb4, IN p_spend_ext LONGTEXT CHARACTER SET utf8mb4,
                                          IN p_keys LONGTEXT CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_ids LONGTEXT CHARACTER SET utf8mb4 DEFAULT p_ids;
  DECLARE v_page INT DEFAULT p_page + 1;	-- the debt row's place too
  DECLARE v_alerted LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  IF p_lock = 1 AND p_ext IS NOT NULL AND p_ids IS NULL AND JSON_LENGTH(p_ext) = 1 THEN
    -- One account: nothing to order, locked by its external id at once.
    SELECT 0 AS accounts, a.*
      FROM cd_account_rows a WHERE a.ext_id = JSON_VALUE(p_ext, '$[0]')
      FOR UPDATE;
    SET p_lock = 2;
  ELSEIF p_lock = 1 AND p_ext IS NOT NULL THEN
    -- The accounts named by external id, with those named by id, in one
    -- ascending list: two batches lock their accounts in one order.
    SELECT COALESCE(JSON_ARRAYAGG(DISTINCT u.id ORDER BY u.id), '[]') INTO v_ids FROM (
      SELECT j.id FROM JSON_TABLE(COALESCE(p_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      UNION ALL
      SELECT a.id FROM JSON_TABLE(p_ext, '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
        STRAIGHT_JOIN accounts a ON a.ext_id = k.e) u;
  END IF;

  IF p_lock = 1 AND v_ids IS NOT NULL AND JSON_LENGTH(v_ids) = 1 THEN
    SELECT 0 AS accounts, a.*
      FROM cd_account_rows a WHERE a.id = JSON_VALUE(v_ids, '$[0]')
      FOR UPDATE;
  ELSEIF p_lock = 1 AND v_ids IS NOT NULL THEN
    -- Locked in the list's order: JSON_TABLE drives the join.
    SELECT 0 AS accounts, a.*
      FROM JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN cd_account_rows a ON a.id = j.id
      FOR UPDATE;
  END IF;
  -- A member with no cap of its own is capped by its plan's: read
  -- without a lock (plans are shared; the accounts are locked).
  IF p_lock > 0 AND p_members IS NOT NULL THEN
    SELECT 0 AS plan_caps, a.id, pl.member_cap_micros
      FROM (SELECT j.id FROM JSON_TABLE(COALESCE(p_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
            UNION
            SELECT a.id FROM JSON_TABLE(COALESCE(p_ext, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
              STRAIGHT_JOIN accounts a ON a.ext_id = k.e) s
      STRAIGHT_JOIN accounts a ON a.id = s.id
      STRAIGHT_JOIN plans pl ON pl.name = a.plan
     WHERE pl.member_cap_micros IS NOT NULL;
  END IF;

  -- The holds settled or released, each with its account (a hold of
  -- another account is not read), and their members' rows.
  IF p_holds IS NOT NULL AND JSON_LENGTH(p_holds) = 1 THEN
    SELECT 0 AS holds, h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member,
           h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id,
           h.max_output_tokens, h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok,
           h.pin_output_micros_per_mtok, h.pin_margin_bps, h.rate_minute, h.rate_tokens,
           m.account_id, m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros, m.reserved_micros,
           m.cap_month_noted, m.requests_per_minute, m.tokens_per_minute, m.rate_minute, m.rate_requests,
           m.rate_tokens, h.pin_cache_write_micros_per_mtok
      FROM holds h
      LEFT JOIN members m ON m.account_id = h.account_id AND m.member = h.member
     WHERE h.id = JSON_VALUE(p_holds, '$[0][0]') AND h.account_id = JSON_VALUE(p_holds, '$[0][1]')
      FOR UPDATE;
  ELSEIF p_holds IS NOT NULL THEN
    SELECT 0 AS holds, h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member,
           h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id,
           h.max_output_tokens, h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok,
           h.pin_output_micros_per_mtok, h.pin_margin_bps, h.rate_minute, h.rate_tokens,
           m.account_id, m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros, m.reserved_micros,
           m.cap_month_noted, m.requests_per_minute, m.tokens_per_minute, m.rate_minute, m.rate_requests,
           m.rate_tokens, h.pin_cache_write_micros_per_mtok
      FROM JSON_TABLE(p_holds, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', acct BIGINT UNSIGNED PATH '$[1]')) j
      STRAIGHT_JOIN holds h ON h.id = j.id AND h.account_id = j.acct
      LEFT JOIN members m ON m.account_id = h.account_id AND m.member = h.member
      FOR UPDATE;
  END IF;

  -- Authorizes' request_ids, when a batch found one held already.
  IF p_reqs IS NOT NULL THEN
    SELECT 0 AS hold_reqs, h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member,
           h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id,
           h.max_output_tokens, h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok,
           h.pin_output_micros_per_mtok, h.pin_margin_bps, h.rate_minute, h.rate_tokens,
           h.pin_cache_write_micros_per_mtok
      FROM JSON_TABLE(p_reqs, '$[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', r VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN holds h ON h.account_id = a.id AND h.request_id = j.r;
  END IF;

  -- 086: a member the batch names with no row, on a workspace whose
  -- plan caps members, gets its row here, under its account's lock (taken
  -- above), before the members are read: the row src/ledger/accounts/
  -- ledger_members.c makes for POST .../members (its SQL_MEMBER_CREATE,
  -- the same sums), so that the plan's cap binds the member like a row
  -- with no cap of its own. The clock comes with each pair (its second,
  -- its month, the month's end); a creditd before 086 sends none, and
  -- makes the row itself as before.
  IF p_lock > 0 AND p_members IS NOT NULL THEN
    INSERT INTO members (account_id, member, month_key, month_spent_micros, reserved_micros, created_at)
    SELECT p.a, p.n, p.mk,
           (SELECT COALESCE(SUM(u.cost_micros), 0) FROM usage_records u WHERE u.account_id = p.a
               AND u.created_at >= p.t AND u.created_at < p.e AND u.member = p.n) +
           (SELECT COALESCE(SUM(h.charged_micros), 0) FROM holds h WHERE h.account_id = p.a AND h.state = 'captured'
               AND h.member = p.n AND h.finished_at >= p.t AND h.finished_at < p.e) +
           (SELECT COALESCE(SUM(jr.amount_micros), 0) FROM usage_records u STRAIGHT_JOIN holds h ON h.id = u.hold_id
              STRAIGHT_JOIN journal jr ON jr.account_id = u.account_id AND jr.hold_id = u.hold_id AND jr.cause = 'usage'
             WHERE u.account_id = p.a AND u.created_at >= p.t AND u.created_at < p.e AND u.member = p.n
               AND u.created_at >= h.expires_at AND jr.created_at < p.t),
           (SELECT COALESCE(SUM(h.amount_micros), 0) FROM holds h WHERE h.account_id = p.a AND h.state = 'pending'
               AND h.member = p.n),
           p.t
      FROM (SELECT DISTINCT a.id AS a, j.n, j.mk, j.t, j.me AS e
              FROM JSON_TABLE(p_members, '$[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', n VARBINARY(128) PATH '$[1]',
                                                         t BIGINT PATH '$[2]', mk BIGINT PATH '$[3]',
                                                         me BIGINT PATH '$[4]')) j
              STRAIGHT_JOIN accounts a ON a.ext_id = j.e
              STRAIGHT_JOIN plans pl ON pl.name = a.plan
             WHERE j.t IS NOT NULL AND a.kind = 'workspace' AND pl.member_cap_micros IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM members m WHERE m.account_id = a.id AND m.member = j.n)) p;
  END IF;

  IF p_members IS NOT NULL THEN
    SELECT 0 AS members, m.account_id, m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros,
           m.reserved_micros, m.cap_month_noted, m.requests_per_minute, m.tokens_per_minute, m.rate_minute,
           m.rate_requests, m.rate_tokens
      FROM JSON_TABLE(p_members, '$[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', n VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN members m ON m.account_id = a.id AND m.member = j.n
      FOR UPDATE;
  END IF;

  IF p_usages IS NOT NULL THEN
    SELECT 0 AS usages, u.id, u.account_id, u.usage_key, u.cost_micros, u.request_hash
      FROM JSON_TABLE(p_usages, '$[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', k VARBINARY(128) PATH '$[1]')) j
      STRAIGHT_JOIN accounts a ON a.ext_id = j.e
      STRAIGHT_JOIN usage_records u ON u.account_id = a.id AND u.usage_key = j.k;
  END IF;

  -- The grants of the accounts that may spend, in spending order (src/
  -- ledger_rows.h GRANTS_SPEND_ORDER), grouped by account, with each
  -- account's debt row: a page of p_page positive grants per account
  -- (creditd reads the next page when a charge burns them all). For one
  -- account the debt row comes first and the page is p_page + 1 rows (one
  -- more positive grant when there is no debt row); for several, each
  -- account's debt row comes last.
  IF p_spend_ids IS NOT NULL AND p_spend_ext IS NULL AND JSON_LENGTH(p_spend_ids) = 1 THEN
    -- One account (a settle's): its page by the index, no window.
    SELECT 0 AS grants, g.id, g.account_id, g.remaining_micros, g.source = 'debt' AS is_debt
      FROM grants g
     WHERE g.account_id = JSON_VALUE(p_spend_ids, '$[0]') AND (g.remaining_micros > 0 OR g.source = 'debt')
     ORDER BY is_debt DESC, g.priority, g.expires_at IS NULL, g.expires_at, g.id
     LIMIT v_page;
  ELSEIF p_spend_ext IS NOT NULL AND p_spend_ids IS NULL AND JSON_LENGTH(p_spend_ext) = 1 THEN
    SELECT 0 AS grants, g.id, g.account_id, g.remaining_micros, g.source = 'debt' AS is_debt
      FROM accounts a STRAIGHT_JOIN grants g ON g.account_id = a.id
     WHERE a.ext_id = JSON_VALUE(p_spend_ext, '$[0]') AND (g.remaining_micros > 0 OR g.source = 'debt')
     ORDER BY is_debt DESC, g.priority, g.expires_at IS NULL, g.expires_at, g.id
     LIMIT v_page;
  ELSEIF p_spend_ids IS NOT NULL OR p_spend_ext IS NOT NULL THEN
    SELECT 0 AS grants, t.id, t.account_id, t.remaining_micros, t.is_debt
      FROM (SELECT g.id, g.account_id, g.remaining_micros, g.source = 'debt' AS is_debt, g.priority, g.expires_at,
                   ROW_NUMBER() OVER (PARTITION BY g.account_id, g.source = 'debt'
                                      ORDER BY g.priority, g.expires_at IS NULL, g.expires_at, g.id) AS n
              FROM (SELECT j.id FROM JSON_TABLE(COALESCE(p_spend_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
                    UNION
                    SELECT a.id FROM JSON_TABLE(COALESCE(p_spend_ext, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
                      STRAIGHT_JOIN accounts a ON a.ext_id = k.e) s
              STRAIGHT_JOIN grants g ON g.account_id = s.id
             WHERE g.remaining_micros > 0 OR g.source = 'debt') t
     WHERE t.n <= p_page
     ORDER BY t.account_id, t.is_debt, t.priority, t.expires_at IS NULL, t.expires_at, t.id;
  END IF;

  IF p_lock > 0 AND p_keys IS NOT NULL THEN
    SELECT 0 AS idem_keys, k.idem_key, k.request_hash, k.status, k.response
      FROM JSON_TABLE(p_keys, '$[*]' COLUMNS (k VARBINARY(255) PATH '$')) j
      STRAIGHT_JOIN idempotency_keys k ON k.idem_key = j.k;
  END IF;

  -- 059: the accounts read that have alerts (accounts.alert_count, as
  -- the rows locked above have it: READ COMMITTED reads the newest
  -- version, which no one else can move under the lock); none, and the
  -- read ends here as before.
  IF p_lock > 0 AND p_ids IS NULL AND JSON_LENGTH(p_ext) = 1 THEN
    -- One account (an authorize's, a usage's): by its key at once.
    SELECT JSON_ARRAYAGG(a.id) INTO v_alerted
      FROM accounts a WHERE a.ext_id = JSON_VALUE(p_ext, '$[0]') AND a.alert_count > 0;
  ELSEIF p_lock > 0 AND p_ext IS NULL AND JSON_LENGTH(p_ids) = 1 THEN
    -- One account by id (a settle's, a release's).
    SELECT JSON_ARRAYAGG(a.id) INTO v_alerted
      FROM accounts a WHERE a.id = JSON_VALUE(p_ids, '$[0]') AND a.alert_count > 0;
  ELSEIF p_lock > 0 AND (p_ids IS NOT NULL OR p_ext IS NOT NULL) THEN
    SELECT JSON_ARRAYAGG(a.id ORDER BY a.id) INTO v_alerted
      FROM (SELECT j.id FROM JSON_TABLE(COALESCE(p_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
            UNION
            SELECT a.id FROM JSON_TABLE(COALESCE(p_ext, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
              STRAIGHT_JOIN accounts a ON a.ext_id = k.e) s
      STRAIGHT_JOIN accounts a ON a.id = s.id
     WHERE a.alert_count > 0;
  END IF;

  IF v_alerted IS NOT NULL THEN
    -- Their alerts, in each account's order, locked (what the write sets).
    SELECT 0 AS alerts, al.account_id, al.id, al.kind, al.threshold, al.member, al.fired_key
      FROM JSON_TABLE(v_alerted, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN alerts al ON al.account_id = j.id
     ORDER BY al.account_id, al.pos, al.id
       FOR UPDATE;
    -- The member_cap_pct states of the members the batch names (by the
    -- request, or by a hold settled or released), locked.
    SELECT 0 AS alert_members, al.id, am.member, am.fired_key
      FROM (SELECT a.id AS acct, j.n AS member
              FROM JSON_TABLE(COALESCE(p_members, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$[0]', n VARBINARY(128) PATH '$[1]')) j
              STRAIGHT_JOIN accounts a ON a.ext_id = j.e
            UNION
            SELECT h.account_id, h.member
              FROM JSON_TABLE(COALESCE(p_holds, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', acct BIGINT UNSIGNED PATH '$[1]')) j
              STRAIGHT_JOIN holds h ON h.id = j.id AND h.account_id = j.acct
             WHERE h.member IS NOT NULL) s
      STRAIGHT_JOIN alerts al ON al.account_id = s.acct AND al.kind = 'member_cap_pct'
      STRAIGHT_JOIN alert_members am ON am.alert_id = al.id AND am.member = s.member
       FOR UPDATE;
    -- The plan period's plan grants (plan_credits_used_pct), locked.
    SELECT 0 AS alert_plan_grants, g.account_id, g.id, g.amount_micros, g.remaining_micros
      FROM JSON_TABLE(v_alerted, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
      STRAIGHT_JOIN grants g ON g.account_id = a.id AND g.period_key = a.plan_period AND g.source = 'plan'
     WHERE a.plan_period > 0
       FOR UPDATE;
    -- The plan's member cap (a member with none of its own), read
    -- without a lock as plan_caps above; NULL: none.
    SELECT 0 AS alert_plan_caps, a.id, pl.member_cap_micros
      FROM JSON_TABLE(v_alerted, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
      STRAIGHT_JOIN plans pl ON pl.name = a.plan;
  END IF;
END;
