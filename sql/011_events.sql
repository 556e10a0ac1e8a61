-- 011_events.sql: the outbox (DESIGN §9 "Notifications"). Every event is
-- written in the transaction of the change that causes it. Its id comes
-- from the one row of event_seq, locked until that transaction commits:
-- ids are gapless and increase in commit order, so a reader paging with
-- ?after= never skips an event that commits later with a smaller id.
CREATE TABLE event_seq (
  id TINYINT NOT NULL PRIMARY KEY,
  last_id BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT INTO event_seq (id, last_id) VALUES (1, 0);

CREATE TABLE events (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  account VARBINARY(128) NOT NULL,
  type VARCHAR(32) NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  state ENUM('pending','delivered','failed') NOT NULL DEFAULT 'pending',
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  delivered_at BIGINT NULL,
  last_error VARCHAR(255) NULL,
  KEY ix_due (state, next_attempt_at),
  KEY ix_account (account_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What an account (or member) has been told already, so that each notice
-- goes out once: balance.low once per crossing (cleared when available
-- rises to the threshold again), balance.depleted at the first 402 since
-- credit last came in, limit.reached at the first 429 of a month or day.
ALTER TABLE accounts
  ADD COLUMN low_noted TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN depleted_noted TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN limit_month_noted INT NOT NULL DEFAULT 0,
  ADD COLUMN limit_day_noted INT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN cap_month_noted INT NOT NULL DEFAULT 0;
