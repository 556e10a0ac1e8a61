-- 007_promo_codes.sql: promo codes (DESIGN §9). A code is matched
-- case-insensitively through code_key (its lower-case form, unique); a
-- redemption row per (code, account) makes "once per account" a unique
-- key, and the code's row, locked after the account's, counts them.
CREATE TABLE promo_codes (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code VARCHAR(64) NOT NULL,
  code_key VARCHAR(64) NOT NULL,
  amount_micros BIGINT NOT NULL,
  max_redemptions BIGINT NULL,
  redeemed BIGINT NOT NULL DEFAULT 0,
  expires_at BIGINT NULL,
  grant_ttl_days INT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE KEY uq_code_key (code_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE promo_redemptions (
  promo_id BIGINT UNSIGNED NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  grant_id BIGINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (promo_id, account_id),
  KEY ix_account (account_id),
  CONSTRAINT fk_redemption_promo FOREIGN KEY (promo_id) REFERENCES promo_codes (id),
  CONSTRAINT fk_redemption_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
