-- 019_dispute_recharges.sql: every Stripe-funded credit is disputed and
-- refunded alike (DESIGN §10): an auto-recharge's row keeps what was
-- paid, refunded and disputed as a Checkout top-up's does, and a dispute
-- belongs to a top-up or to a recharge. A dispute that arrives before its
-- payment is credited is kept by its payment intent (no top-up, recharge
-- or account yet) and applied when the credit comes.
ALTER TABLE recharges
  ADD COLUMN paid_cents BIGINT NULL,
  ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN refunded_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN disputed_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN charge_id VARCHAR(255) NULL,
  ADD KEY ix_charge (charge_id);

ALTER TABLE disputes
  MODIFY topup_id BIGINT UNSIGNED NULL,
  MODIFY account_id BIGINT UNSIGNED NULL,
  ADD COLUMN recharge_id BIGINT UNSIGNED NULL,
  ADD COLUMN payment_intent VARCHAR(255) NULL,
  ADD COLUMN charge_id VARCHAR(255) NULL,
  ADD COLUMN currency VARCHAR(8) NULL,
  ADD KEY ix_recharge (recharge_id),
  ADD KEY ix_waiting (payment_intent, account_id);
