-- 017_stripe_trust.sql: Stripe is trusted only for what creditd asked for
-- (DESIGN §10). Disputes take credit back and give it back (two journal
-- causes), each dispute once per outcome (its row, keyed by Stripe's
-- dispute id); top-ups left pending a day are marked expired; an event
-- about a session creditd never made has no account; an account says why
-- it is suspended.
ALTER TABLE journal
  MODIFY cause ENUM('grant','usage','expiry','refund','adjustment','dispute','dispute_won') NOT NULL;

-- NULL: active, or suspended before this migration (no reason known).
ALTER TABLE accounts
  ADD COLUMN status_reason ENUM('manual','dispute','payment_failed') NULL;

-- paid_cents: what the charge took (Checkout's amount_total, tax
-- included), so that a dispute of part of it takes back the same share
-- of the credit; disputed_micros: the credit disputes hold taken back now.
ALTER TABLE topups
  MODIFY status ENUM('pending','credited','expired') NOT NULL DEFAULT 'pending',
  ADD COLUMN paid_cents BIGINT NULL,
  ADD COLUMN charge_id VARCHAR(255) NULL,
  ADD COLUMN disputed_micros BIGINT NOT NULL DEFAULT 0,
  ADD KEY ix_charge (charge_id),
  ADD KEY ix_account_created (account_id, created_at),
  ADD KEY ix_status_created (status, created_at);

-- state: open (credit taken back), won (given back), lost or closed
-- (kept). A closed event that arrives before its created one writes the
-- row, so the late created event finds the outcome and takes nothing.
CREATE TABLE disputes (
  dispute_id VARCHAR(255) NOT NULL PRIMARY KEY,
  topup_id BIGINT UNSIGNED NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  amount_cents BIGINT NOT NULL,
  taken_micros BIGINT NOT NULL DEFAULT 0,
  returned_micros BIGINT NOT NULL DEFAULT 0,
  state ENUM('open','won','lost','closed') NOT NULL,
  created_at BIGINT NOT NULL,
  closed_at BIGINT NULL,
  KEY ix_topup (topup_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- topup.mismatch for a session creditd never made belongs to no account.
ALTER TABLE events
  MODIFY account_id BIGINT UNSIGNED NULL,
  MODIFY account VARBINARY(128) NULL;
