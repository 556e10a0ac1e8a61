-- 021_payg.sql: pay-as-you-go collection (DESIGN §10). An account allowed
-- an overdraft, with a saved card, has the debt it ran up in a month
-- charged to the card once the month is over. A collection is a row of
-- recharges of kind 'payg', one per account and period (the month whose
-- use it collects, YYYYMM): the unique key is what makes two sweeps, two
-- creditd processes or creditctl collect charge a period only once. Its
-- try (1 to 3) is part of Stripe's Idempotency-Key; a declined try is
-- tried again a day later, then two days after that.
ALTER TABLE recharges
  ADD COLUMN kind ENUM('recharge','payg') NOT NULL DEFAULT 'recharge',
  ADD COLUMN period INT NULL,
  ADD COLUMN try_no TINYINT NOT NULL DEFAULT 1,
  ADD UNIQUE KEY uq_payg_period (account_id, period);

-- The last period for which the sweep looked at the account (YYYYMM),
-- NULL for an account that is not pay-as-you-go. Set to the month before
-- when it becomes one (an overdraft allowed): the sweep visits, once a
-- month, only the accounts it has not looked at for the month just over,
-- through the index, so it never reads the accounts that cannot owe.
ALTER TABLE accounts
  ADD COLUMN payg_period INT NULL,
  ADD KEY ix_payg_period (payg_period);

UPDATE accounts
   SET payg_period = EXTRACT(YEAR_MONTH FROM UTC_TIMESTAMP() - INTERVAL 1 MONTH)
 WHERE overdraft_limit_micros > 0;

-- A collection paid is a grant of its own source.
ALTER TABLE grants
  MODIFY source ENUM('signup_bonus','topup','promo','plan','refund','adjustment','debt','payment') NOT NULL;
