-- 023_receipts.sql: receipts of top-ups (DESIGN §10 "Receipts"). A
-- top-up's row keeps what Stripe says about its payment once it says it:
-- the charge's receipt_url (charge.succeeded / charge.updated, matched by
-- the top-up's payment intent) and, for a session created with
-- invoice_creation, the invoice's id (from the session's completion) and
-- its hosted_invoice_url and invoice_pdf (invoice.paid / invoice.finalized,
-- matched by that id). NULL until known. receipt_event_at and
-- invoice_event_at are the "created" of the event that set them, so that
-- an older event delivered late does not overwrite a newer URL. The URLs
-- are at most LIMIT_RECEIPT_URL_BYTES (src/limits.h) long.
ALTER TABLE topups
  ADD COLUMN receipt_url VARCHAR(1024) NULL,
  ADD COLUMN receipt_event_at BIGINT NULL,
  ADD COLUMN invoice_id VARCHAR(255) NULL,
  ADD COLUMN invoice_url VARCHAR(1024) NULL,
  ADD COLUMN invoice_pdf VARCHAR(1024) NULL,
  ADD COLUMN invoice_event_at BIGINT NULL,
  ADD KEY ix_invoice (invoice_id);

-- A charge's receipt that came before its top-up was credited (Stripe
-- sends charge.succeeded before checkout.session.completed, as a rule):
-- kept by payment intent and written on the top-up when it is credited.
-- A charge that is no top-up of creditd's leaves a row the sweeper
-- purges after a week (LIMIT_RECEIPT_WAIT_DAYS).
CREATE TABLE receipts_waiting (
  payment_intent VARCHAR(255) NOT NULL PRIMARY KEY,
  receipt_url VARCHAR(1024) NOT NULL,
  event_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  KEY ix_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
