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
-- payment intent, before their read: two such transactions at once write
-- the same row, and Galera aborts one (at certification, or by force);
-- it runs again, and commits only once the other's write has reached its
-- node, so its read sees it (past its tries it answers 503, and Stripe
-- sends the event again). On one server it is one more row the two lock,
-- in opposite orders like the rest of their write-then-read: a meeting
-- is a deadlock InnoDB breaks at once, and the one rolled back runs again.
CREATE TABLE IF NOT EXISTS payments_met (
  payment_intent VARBINARY(255) NOT NULL PRIMARY KEY,
  met BIGINT NOT NULL DEFAULT 1,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
