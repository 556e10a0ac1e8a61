-- 031_payg_tries.sql: every try of a pay-as-you-go collection keeps its
-- PaymentIntent (DESIGN §13). A collection's row in recharges names only
-- the try with Stripe now; a declined try's PaymentIntent is still open
-- at Stripe (requires_payment_method: the customer may yet authenticate
-- it and pay), and the next try has its own. Whichever try's payment
-- succeeds is credited once, for that try's amount, and the others still
-- open are cancelled at Stripe so that the card is not charged twice.
--
-- One row per PaymentIntent creditd made for a collection (its id is the
-- key: Stripe ids are case-sensitive), written when Stripe's answer names
-- it: state open (made, neither paid nor cancelled), paid, cancel (to be
-- cancelled: the recharge sender claims it by next_attempt_at, as it
-- claims charges, and POSTs /v1/payment_intents/{id}/cancel), canceled,
-- or not_canceled (Stripe refused: it succeeded first, or cannot be
-- cancelled; error says why, for the operator). Locks: after the
-- account and the collection's row in recharges, as everywhere.
CREATE TABLE payg_tries (
  payment_intent VARBINARY(255) NOT NULL PRIMARY KEY,
  recharge_id BIGINT UNSIGNED NOT NULL,
  try_no TINYINT NOT NULL,
  amount_cents BIGINT NOT NULL,
  state ENUM('open','paid','cancel','canceled','not_canceled') NOT NULL DEFAULT 'open',
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  error VARCHAR(500) NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  KEY ix_recharge (recharge_id, state),
  KEY ix_cancel (state, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The tries made before this migration that are known: the one each
-- collection has with Stripe (or was paid by). Earlier tries' ids were
-- not kept.
INSERT INTO payg_tries (payment_intent, recharge_id, try_no, amount_cents, state, created_at, updated_at)
SELECT payment_intent, id, try_no, amount_cents, IF(state = 'succeeded', 'paid', 'open'), updated_at, updated_at
  FROM recharges
 WHERE kind = 'payg' AND payment_intent IS NOT NULL;
