-- 026_invoice_once.sql: an invoice credits once. An invoice.paid for a
-- price in no catalogued plan grants its amount as a 'plan' grant whose
-- reference is the invoice's id (in_...). The Stripe event id alone made
-- it once per event: the same invoice in a second event (a resend from
-- Stripe's dashboard, or one delivered after retention purged the first
-- event's id) credited it again. invoice_id is that reference for such a
-- grant and NULL for every other (a UNIQUE key allows many NULLs), so the
-- database refuses a second grant for one invoice whatever account the
-- event resolved to; creditd looks it up first and answers "duplicate".
-- Grants made before this migration name their subscription (sub_...)
-- and stay NULL here. A virtual column: nothing is rewritten; the index
-- is built in place (one entry per such grant, few). Binary: Stripe ids
-- are case-sensitive, the reference column's collation is not.
ALTER TABLE grants
  ADD COLUMN invoice_id VARBINARY(1020) AS (IF(source = 'plan' AND LEFT(reference, 3) = 'in_', reference, NULL)) VIRTUAL,
  ADD UNIQUE KEY uq_invoice (invoice_id);
