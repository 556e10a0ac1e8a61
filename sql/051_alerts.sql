-- 051_alerts.sql: threshold alerts (docs/api.md, "Alerts"): an account's
-- alerts, at most LIMIT_ALERTS (src/limits.h), set whole by PUT
-- /v1/accounts/{id}/alerts. Each fires the event alert.threshold once
-- per crossing, in the transaction of the change that crosses it.
--
-- accounts.alert_count is how many the account has, read with its row
-- (the view cd_account_rows, which the guard's read CALL returns whole):
-- an account with none costs no read more; one with some has them read
-- under its row's lock by the operation that changes its money.
--
-- alerts.fired_key is the alert's state: 0 armed; else the period it
-- fired in (the month key for monthly_spend_pct, the UTC day for
-- daily_spend_pct, the plan period for plan_credits_used_pct, 1 for
-- balance_below): an alert fired in an earlier period is armed again.
-- A member_cap_pct alert keeps its state per member in alert_members
-- (a row for a member it fired for; fired_key the month).
--
-- Added in place: the column has a default (MariaDB's instant ADD
-- COLUMN), the view gains it last (a creditd before 051 reads the
-- columns where they were), the tables are new.
ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS alert_count TINYINT UNSIGNED NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW cd_account_rows AS
  SELECT id, ext_id, kind, status, balance_micros, reserved_micros,
         overdraft_limit_micros, monthly_limit_micros, low_balance_micros, plan, month_key,
         month_spent_micros, sweep_due_at, created_at, stripe_customer_id, daily_limit_micros,
         day_key, day_spent_micros, plan_period, low_noted, depleted_noted, limit_month_noted,
         limit_day_noted, recharge_threshold_micros, recharge_amount_cents,
         stripe_payment_method IS NOT NULL AS has_card, recharge_pending, recharge_failures, recharge_day_key,
         recharge_day_count, requests_per_minute, tokens_per_minute, rate_minute, rate_requests,
         rate_tokens, status_reason, row_version, alert_count
    FROM accounts;

CREATE TABLE IF NOT EXISTS alerts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  pos TINYINT UNSIGNED NOT NULL,
  kind ENUM('balance_below','monthly_spend_pct','daily_spend_pct','member_cap_pct',
            'plan_credits_used_pct') NOT NULL,
  threshold BIGINT NOT NULL,
  member VARBINARY(128) NULL,
  fired_key BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  KEY ix_account (account_id, pos),
  CONSTRAINT fk_alerts_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS alert_members (
  alert_id BIGINT UNSIGNED NOT NULL,
  member VARBINARY(128) NOT NULL,
  fired_key BIGINT NOT NULL,
  PRIMARY KEY (alert_id, member),
  CONSTRAINT fk_alert_members_alert FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
