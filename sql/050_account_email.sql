-- 050_account_email.sql: alerts by email (DESIGN §14, "Alerts by
-- email"), for apps that receive no events (shared hosting).
--
-- accounts.email: the address an account's alerts are mailed to; NULL
-- (the default) mails nothing. Added in place (instant ADD COLUMN).
--
-- event_mails: one row an event to mail, its delivery state kept apart
-- from the push's (events.state): an event may be pushed and mailed, each
-- at least once with its own backoff. A row is made by the mailer (not by
-- the transaction that wrote the event) when it reads the outbox past
-- mail_cursor: an event of a type [email] events names, of an account
-- with an email. next_at is also the lease of a claim (as
-- events.next_attempt_at): two creditd processes never send one mail at
-- the same time.
--
-- mail_cursor: the last event id the mailer looked at (one row). It starts
-- at the newest event of the migration's time: events written before it
-- are never mailed.
ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS email VARCHAR(254) CHARACTER SET ascii NULL;

CREATE TABLE IF NOT EXISTS event_mails (
  event_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  state ENUM('pending','sent','failed','dropped') NOT NULL DEFAULT 'pending',
  attempts INT NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  delivered_at BIGINT NULL,
  last_error VARCHAR(255) NULL,
  created_at BIGINT NOT NULL,
  KEY ix_due (state, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS mail_cursor (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  last_event_id BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO mail_cursor (id, last_event_id) SELECT 1, IFNULL(MAX(id), 0) FROM events;
