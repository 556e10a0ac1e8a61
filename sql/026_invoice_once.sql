-- 026_invoice_once.sql: an invoice credits once. An invoice.paid for a
-- price in no catalogued plan grants its amount as a 'plan' grant whose
-- reference is the invoice's id (in_...). The Stripe event id alone made
-- it once per event: the same invoice in a second event (a resend from
-- Stripe's dashboard, or one delivered after retention purged the first
-- event's id) credited it again. A row here, keyed by the invoice's id,
-- is written in the grant's transaction: the key holds one credit an
-- invoice whatever account the event resolved to, and creditd reads it
-- first to answer "duplicate". A table of its own, not a key on grants:
-- grants is written by every settle, and an invoice is a rare event.
-- Binary: Stripe ids are case-sensitive. creditctl verify checks each row
-- against its grant and each invoice grant against its row. Grants made before this migration name their
-- subscription (sub_...) and have no row here.
CREATE TABLE invoice_credits (
  invoice_id VARBINARY(255) NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  grant_id BIGINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
