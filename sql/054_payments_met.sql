-- 054_payments_met.sql: where a Stripe payment's credit and a dispute or
-- a refund of it that came first meet (src/ledger/ledger_funded.c,
-- ledger_funded_meet).
--
-- A dispute or a refund that arrives before its payment is credited is
-- kept (disputes, refunds_waiting), and the credit applies it; each side
-- writes, then reads the other with a locking read, so that one of two at
-- the same moment waits for the other on one server. On a Galera cluster
-- a lock of one node is not another's: a dispute, which names no
-- account, is kept on the node of no account while the credit is written
-- on its account's, and both could commit without seeing each other (the
-- dispute never applied). So both sides also write this row, one a
-- payment intent: two such transactions at once write the same row, and
-- Galera's certification aborts one (run again, it sees the other). On
-- one server the row is one more lock both take in the same order.
CREATE TABLE IF NOT EXISTS payments_met (
  payment_intent VARBINARY(255) NOT NULL PRIMARY KEY,
  met BIGINT NOT NULL DEFAULT 1,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
