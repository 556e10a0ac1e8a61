-- 033_invoice_payment_news.sql: the payment of a subscription's invoice
-- from Stripe API 2025-03-31 on. Such an invoice.paid names no payment
-- intent and no charge (they live on the invoice's payments, which
-- events do not expand): the credit it bought was recorded with neither,
-- so a refund or a chargeback of that payment found no credit to take
-- back (DESIGN §13). Stripe sends invoice_payment.paid beside it, naming
-- the invoice and its payment intent or charge, in either order.
--
-- invoice_payments keeps one row an invoice: the payment that paid it as
-- invoice_payment.paid named it (NULL until it came). Both events take
-- this row's lock before reading the other's side: invoice.paid makes the
-- row (empty) when its invoice names no payment and reads it; the later
-- invoice_payment.paid fills it and names the payment on the invoice's
-- credit row (invoice_credits) if that row is there already
-- (src/ledger_invoice_pay.c), if it paid this invoice (its currency and
-- amount the invoice's). The first paid payment of an invoice is kept.
--
-- refunds_waiting keeps a charge.refunded whose charge no credit names
-- yet (its invoice's payment not known: the event was acknowledged and
-- its refund lost before), one row a charge with the most refunded so
-- far; a credit that comes to name the payment applies it.
CREATE TABLE invoice_payments (
  invoice_id VARBINARY(255) NOT NULL PRIMARY KEY,
  payment_intent VARCHAR(255) NULL,
  charge_id VARCHAR(255) NULL,
  amount_paid_cents BIGINT NULL,
  currency VARCHAR(8) NULL,
  received_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE refunds_waiting (
  charge_id VARBINARY(255) NOT NULL PRIMARY KEY,
  payment_intent VARBINARY(255) NULL,
  amount_refunded_cents BIGINT NOT NULL,
  charge_amount_cents BIGINT NULL,
  currency VARCHAR(8) NULL,
  received_at BIGINT NOT NULL,
  KEY ix_payment_intent (payment_intent)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
