-- 012_auto_recharge.sql: auto-recharge (DESIGN §9). The account's setting
-- (threshold and amount, NULL: off), its saved card, and what keeps a
-- recharge from running away: one in flight (recharge_pending), a count
-- per UTC day, failures in a row (two switch it off). A recharge's row is
-- its own Stripe Idempotency-Key ("recharge_<id>") and is credited once.
ALTER TABLE accounts
  ADD COLUMN recharge_threshold_micros BIGINT NULL,
  ADD COLUMN recharge_amount_cents BIGINT NULL,
  ADD COLUMN recharge_pending TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN recharge_failures INT NOT NULL DEFAULT 0,
  ADD COLUMN recharge_day_key INT NOT NULL DEFAULT 0,
  ADD COLUMN recharge_day_count INT NOT NULL DEFAULT 0,
  ADD COLUMN stripe_payment_method VARCHAR(255) NULL;

CREATE TABLE recharges (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  amount_cents BIGINT NOT NULL,
  state ENUM('queued','sent','succeeded','failed') NOT NULL DEFAULT 'queued',
  payment_intent VARCHAR(255) NULL,
  credited_micros BIGINT NOT NULL DEFAULT 0,
  grant_id BIGINT UNSIGNED NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  error VARCHAR(500) NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE KEY uq_payment_intent (payment_intent),
  KEY ix_due (state, next_attempt_at),
  KEY ix_account (account_id, id),
  CONSTRAINT fk_recharges_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
