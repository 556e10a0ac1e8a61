-- 001_init.sql: the creditd ledger schema.
-- Money is BIGINT micros; times are BIGINT unix seconds (UTC).
-- The journal is append-only: triggers refuse UPDATE and DELETE on it.

CREATE TABLE api_keys (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  key_hash BINARY(32) NOT NULL,
  prefix VARCHAR(16) NOT NULL,
  name VARCHAR(128) NOT NULL DEFAULT '',
  scopes TINYINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT NULL,
  UNIQUE KEY uq_key_hash (key_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE accounts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ext_id VARBINARY(128) NOT NULL,
  kind ENUM('user','workspace') NOT NULL,
  status ENUM('active','suspended','closed') NOT NULL DEFAULT 'active',
  balance_micros BIGINT NOT NULL DEFAULT 0,
  reserved_micros BIGINT NOT NULL DEFAULT 0,
  overdraft_limit_micros BIGINT NOT NULL DEFAULT 0,
  monthly_limit_micros BIGINT NULL,
  low_balance_micros BIGINT NULL,
  plan VARCHAR(64) NULL,
  month_key INT NOT NULL DEFAULT 0,
  month_spent_micros BIGINT NOT NULL DEFAULT 0,
  sweep_due_at BIGINT NULL,
  create_hash BINARY(32) NOT NULL,
  stripe_customer_id VARCHAR(255) NULL,
  created_at BIGINT NOT NULL,
  UNIQUE KEY uq_ext_id (ext_id),
  KEY ix_sweep (sweep_due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE grants (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  source ENUM('signup_bonus','topup','promo','plan','refund','adjustment','debt') NOT NULL,
  amount_micros BIGINT NOT NULL,
  remaining_micros BIGINT NOT NULL,
  priority INT NOT NULL DEFAULT 50,
  expires_at BIGINT NULL,
  reference VARCHAR(255) NULL,
  description VARCHAR(500) NULL,
  created_at BIGINT NOT NULL,
  KEY ix_account (account_id, remaining_micros),
  CONSTRAINT fk_grants_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE journal (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  amount_micros BIGINT NOT NULL,
  balance_after_micros BIGINT NOT NULL,
  cause ENUM('grant','usage','expiry','refund','adjustment') NOT NULL,
  source VARCHAR(32) NULL,
  grant_id BIGINT UNSIGNED NULL,
  hold_id BIGINT UNSIGNED NULL,
  reference VARCHAR(255) NULL,
  idempotency_key VARBINARY(255) NULL,
  description VARCHAR(500) NULL,
  created_at BIGINT NOT NULL,
  KEY ix_account (account_id, id),
  CONSTRAINT fk_journal_account FOREIGN KEY (account_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TRIGGER journal_append_only_update BEFORE UPDATE ON journal FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'journal is append-only';
CREATE TRIGGER journal_append_only_delete BEFORE DELETE ON journal FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'journal is append-only';

CREATE TABLE members (
  account_id BIGINT UNSIGNED NOT NULL,
  member VARBINARY(128) NOT NULL,
  monthly_cap_micros BIGINT NULL,
  month_key INT NOT NULL DEFAULT 0,
  month_spent_micros BIGINT NOT NULL DEFAULT 0,
  reserved_micros BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, member)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE holds (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  request_id VARBINARY(128) NOT NULL,
  member VARBINARY(128) NULL,
  model VARCHAR(64) NULL,
  action VARCHAR(64) NULL,
  conversation_id VARBINARY(128) NULL,
  amount_micros BIGINT NOT NULL,
  byok TINYINT NOT NULL DEFAULT 0,
  state ENUM('pending','settled','released','expired','captured') NOT NULL DEFAULT 'pending',
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  charged_micros BIGINT NOT NULL DEFAULT 0,
  settle_hash BINARY(32) NULL,
  settle_response VARBINARY(2048) NULL,
  finished_at BIGINT NULL,
  UNIQUE KEY uq_request (account_id, request_id),
  KEY ix_pending (account_id, state, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE usage_records (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  hold_id BIGINT UNSIGNED NULL,
  usage_key VARBINARY(128) NULL,
  member VARBINARY(128) NULL,
  model VARCHAR(64) NULL,
  action VARCHAR(64) NULL,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  cached_input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cost_micros BIGINT NOT NULL,
  byok TINYINT NOT NULL DEFAULT 0,
  request_id VARBINARY(128) NULL,
  conversation_id VARBINARY(128) NULL,
  request_hash BINARY(32) NULL,
  created_at BIGINT NOT NULL,
  UNIQUE KEY uq_usage_key (account_id, usage_key),
  KEY ix_account_time (account_id, created_at),
  KEY ix_hold (hold_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE idempotency_keys (
  idem_key VARBINARY(255) NOT NULL PRIMARY KEY,
  request_hash BINARY(32) NOT NULL,
  status SMALLINT NOT NULL DEFAULT 0,
  response MEDIUMBLOB NOT NULL,
  created_at BIGINT NOT NULL,
  KEY ix_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE models (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  input_micros_per_mtok BIGINT NOT NULL,
  cached_input_micros_per_mtok BIGINT NOT NULL,
  output_micros_per_mtok BIGINT NOT NULL,
  max_output_tokens BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE actions (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  price_micros BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE settings (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO settings (name, value) VALUES ('margin_bps', 10000);

CREATE TABLE topups (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  session_id VARCHAR(255) NULL,
  amount_cents BIGINT NOT NULL,
  currency VARCHAR(8) NOT NULL,
  status ENUM('pending','credited') NOT NULL DEFAULT 'pending',
  credited_micros BIGINT NOT NULL DEFAULT 0,
  refunded_cents BIGINT NOT NULL DEFAULT 0,
  refunded_micros BIGINT NOT NULL DEFAULT 0,
  payment_intent VARCHAR(255) NULL,
  grant_id BIGINT UNSIGNED NULL,
  created_at BIGINT NOT NULL,
  credited_at BIGINT NULL,
  UNIQUE KEY uq_session (session_id),
  KEY ix_payment_intent (payment_intent),
  KEY ix_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE stripe_events (
  event_id VARCHAR(255) NOT NULL PRIMARY KEY,
  type VARCHAR(128) NOT NULL,
  account_id BIGINT UNSIGNED NULL,
  received_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE subscriptions (
  subscription_id VARCHAR(255) NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  plan VARCHAR(64) NULL,
  status VARCHAR(32) NOT NULL,
  current_period_end BIGINT NULL,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE counters (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
