-- 030_invoice_payments.sql: a subscription's credit is refunded and
-- disputed like a top-up (DESIGN §13). Before this migration an
-- invoice.paid kept only the invoice's id, so charge.refunded and
-- charge.dispute.* for its payment found no credit to take back: an end
-- user could subscribe, spend the plan's credit and charge it back.
--
-- invoice_credits now keeps, for every paid subscription invoice that
-- credited the account, its payment intent and charge (as the event names
-- them; NULL when it names none), what was paid (paid_cents, currency)
-- and what the payment bought (credited_micros): for a price in no plan
-- the invoice's own grant (grant_id), for a catalogued plan the period's
-- plan credit (period_key; grant_id NULL: the sweep, the plan being set or
-- the invoice itself made that credit, once per period: a proration,
-- proration = 1, bought what it granted, the period's first or renewal
-- invoice the rest, an invoice of nothing nothing). Refunds and
-- disputes change refunded_cents, refunded_micros and disputed_micros in
-- place, as on topups and recharges; id is what a dispute's row names
-- (disputes.invoice_credit_id).
--
-- Rows from before this migration get the credit of their grant and no
-- payment intent (paid_cents NULL): creditctl verify asks a payment
-- intent or a charge only of rows with paid_cents above 0.
ALTER TABLE invoice_credits
  ADD COLUMN id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE,
  ADD COLUMN payment_intent VARCHAR(255) NULL,
  ADD COLUMN charge_id VARCHAR(255) NULL,
  ADD COLUMN paid_cents BIGINT NULL,
  ADD COLUMN currency VARCHAR(8) NULL,
  ADD COLUMN period_key INT NULL,
  ADD COLUMN credited_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN refunded_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN disputed_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN proration TINYINT NOT NULL DEFAULT 0,
  MODIFY grant_id BIGINT UNSIGNED NULL,
  ADD KEY ix_payment_intent (payment_intent),
  ADD KEY ix_charge (charge_id);
UPDATE invoice_credits ic JOIN grants g ON g.id = ic.grant_id SET ic.credited_micros = g.amount_micros;
ALTER TABLE disputes
  ADD COLUMN invoice_credit_id BIGINT UNSIGNED NULL,
  ADD KEY ix_invoice_credit (invoice_credit_id);
