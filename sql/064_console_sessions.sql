-- 064_console_sessions.sql: the operator's console's sign-ins
-- (docs/api.md, "Console sessions"; docs/operations.md, "Console"). An
-- admin or read key exchanged at POST {base}/console/session for a
-- session: the cookie carries a random id, the table only its SHA-256
-- (a copy of the table opens no console), with the key it stands for,
-- the session's CSRF token and its two clocks: created_at (12 hours at
-- most) and last_seen_at (30 minutes idle; moved at most once a minute).
-- A session whose key is revoked or deleted opens nothing: the look-up
-- joins api_keys on each request, and a deleted key takes its sessions
-- with it. The sweeper purges sessions idle past their limit through
-- ix_last_seen.
CREATE TABLE console_sessions (
  id_hash BINARY(32) NOT NULL PRIMARY KEY,
  key_id BIGINT UNSIGNED NOT NULL,
  csrf CHAR(64) CHARACTER SET ascii NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  KEY ix_key (key_id),
  KEY ix_last_seen (last_seen_at),
  CONSTRAINT fk_console_sessions_key FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
