-- 016_key_binding.sql: an API key may be bound to one account (DESIGN §10,
-- "Keys: scopes and tenants"). account_id is the account's internal id
-- (the one hold ids carry); NULL: the key is not bound. A bound key reaches
-- that account only; admin keys are never bound (creditctl refuses). The
-- account cannot be deleted under a key bound to it.
ALTER TABLE api_keys
  ADD COLUMN account_id BIGINT UNSIGNED NULL AFTER scopes,
  ADD CONSTRAINT fk_api_keys_account FOREIGN KEY (account_id) REFERENCES accounts (id);
