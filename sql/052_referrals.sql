-- 052_referrals.sql: referral credits (docs/growth.md, "Referrals").
--
-- referral_codes: one code an account, made the first time it is asked
-- for (GET /v1/accounts/{id}/referral_code, or the widget's /v1/me);
-- code is unique, so an account found by its code is found once.
--
-- referrals: one row a referred account, written in the transaction
-- that creates it (POST /v1/accounts with referral_code), naming the
-- account whose code it gave. The reward is decided once, under both
-- accounts' locks, in the transaction of the referred account's first
-- credited Checkout top-up: settled_at and topup_id say when and for
-- which top-up; referrer_grant_id and referred_grant_id name the grants
-- of source referral it made (NULL: none, e.g. the monthly cap reached or
-- the rewards off); reward_month is the UTC month (YYYYMM) a rewarded
-- referrer counts it in (ix_referrer_month counts them under the
-- referrer's lock); taken_back_at is set once, when a refund or a dispute
-- of that top-up took both grants' remainders back. No money column: the
-- amounts are the grants', written by the one writer.
--
-- grants.source gains 'referral' at the end of its list, which MariaDB
-- changes in place (no table rebuild).
CREATE TABLE IF NOT EXISTS referral_codes (
  account_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  code VARCHAR(16) CHARACTER SET ascii NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE KEY uq_code (code),
  CONSTRAINT fk_referral_code_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS referrals (
  referred_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  referrer_id BIGINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  settled_at BIGINT NULL,
  topup_id BIGINT UNSIGNED NULL,
  reward_month INT NULL,
  referrer_grant_id BIGINT UNSIGNED NULL,
  referred_grant_id BIGINT UNSIGNED NULL,
  taken_back_at BIGINT NULL,
  KEY ix_referrer_month (referrer_id, reward_month),
  KEY ix_topup (topup_id),
  CONSTRAINT fk_referral_referred FOREIGN KEY (referred_id) REFERENCES accounts (id),
  CONSTRAINT fk_referral_referrer FOREIGN KEY (referrer_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE grants
  MODIFY source ENUM('signup_bonus','topup','promo','plan','refund','adjustment','debt','payment','referral') NOT NULL;
