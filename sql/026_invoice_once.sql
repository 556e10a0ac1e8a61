-- 026_invoice_once.sql: an invoice credits once. An invoice.paid for a
-- price in no catalogued plan grants its amount as a 'plan' grant whose
-- reference is the invoice's id (in_...). The Stripe event id alone made
-- it once per event: the same invoice in a second event (a resend from
-- Stripe's dashboard, or one delivered after retention purged the first
-- event's id) credited it again. invoice_id is that reference for such a
-- grant and NULL for every other (a UNIQUE key allows many NULLs), so the
-- database refuses a second grant for one invoice whatever account the
-- event resolved to; creditd looks it up first and answers "duplicate".
-- A catalogued plan's period grants are 'plan' grants too, named
-- <plan>:<period> (a plan may be called in_house): a Stripe id has no
-- ':', a period grant's reference always has one. Grants made before
-- this migration name their subscription (sub_...) and stay NULL here.
-- Binary: Stripe ids are case-sensitive, the reference column's
-- collation is not. A virtual column: the table is not rewritten, but the
-- index is built by reading every grant, and writes to grants (a settle,
-- a credit) wait while it builds (docs/operations.md, "Upgrading").
ALTER TABLE grants
  ADD COLUMN invoice_id VARBINARY(1020) AS (IF(source = 'plan' AND LEFT(reference, 3) = BINARY 'in_'
                                               AND LOCATE(':', reference) = 0, reference, NULL)) VIRTUAL,
  ADD UNIQUE KEY uq_invoice (invoice_id);
