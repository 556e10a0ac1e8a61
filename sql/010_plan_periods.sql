-- 010_plan_periods.sql: a plan's credits per period (DESIGN §9). One row
-- per (account, period) — the primary key is what makes "one plan grant
-- per period" hold whichever of the sweeper, a request or an invoice.paid
-- webhook gets there first. credits_micros is what the period's plan
-- credit came to (an upgrade raises it); rollover_micros what was carried
-- in from the period before. Grants of a period carry its key.
-- accounts.plan_period is the last period whose credit was settled, so
-- opening an account knows without a query whether a renewal is due.
CREATE TABLE plan_periods (
  account_id BIGINT UNSIGNED NOT NULL,
  period_key INT NOT NULL,
  plan VARBINARY(64) NOT NULL,
  credits_micros BIGINT NOT NULL,
  rollover_micros BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, period_key),
  CONSTRAINT fk_plan_periods_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE grants ADD COLUMN period_key INT NULL,
  ADD KEY ix_period (account_id, period_key);
ALTER TABLE accounts ADD COLUMN plan_period INT NOT NULL DEFAULT 0;
-- Accounts already on a plan were credited this month the old way (by
-- their invoices, if at all): their plan credits start next month.
UPDATE accounts SET plan_period = YEAR(UTC_TIMESTAMP()) * 100 + MONTH(UTC_TIMESTAMP()) WHERE plan IS NOT NULL;
