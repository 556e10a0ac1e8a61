-- 036_gateway_keys.sql: gateway keys for end users (DESIGN §12 "Who pays").
-- An app mints them through POST /v1/accounts/{id}/gateway_keys: rows of
-- api_keys with the gateway scope (16) alone, always bound to an account
-- (account_id), optionally to one member of it, which every call of the
-- key carries (VARBINARY(128), as members.member). expires_at: unix
-- seconds, NULL for never; a key is refused from that second. last_used_at:
-- written by the key's look-up when it is a minute old or more (any key;
-- the gateway key list shows it). The index serves an account's gateway
-- keys: the live ones are counted under the account's lock when one is
-- minted, and listed, without reading the revoked or expired ones.
ALTER TABLE api_keys
  ADD COLUMN member VARBINARY(128) NULL AFTER account_id,
  ADD COLUMN expires_at BIGINT NULL AFTER revoked_at,
  ADD COLUMN last_used_at BIGINT NULL AFTER expires_at,
  ADD KEY ix_account_scope (account_id, scopes, revoked_at, expires_at);
