-- fund.sql: creates the bench's spread accounts in one transaction, the way
-- POST /v1/accounts leaves them: an active user account, its signup-bonus
-- grant and the grant's journal row, with balance = sum of remaining grants
-- = sum of journal (the invariants `creditctl verify` checks).
-- Through the API this takes minutes; here about a second.
-- Set before sourcing: @accounts (1..99999), @prefix (e.g. 'acct-'),
-- @bonus_micros (each account's grant).
-- Ids are @prefix followed by five digits: acct-00000 .. acct-09999.
SET @now = UNIX_TIMESTAMP();
SET @month_key = CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m') AS UNSIGNED);

START TRANSACTION;

INSERT INTO accounts (ext_id, kind, balance_micros, month_key, create_hash, created_at)
SELECT CONCAT(@prefix, LPAD(seq, 5, '0')), 'user', @bonus_micros, @month_key,
       UNHEX(SHA2(CONCAT('bench account ', @prefix, seq), 256)), @now
FROM seq_0_to_99999
WHERE seq < @accounts;

INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, expires_at,
                    reference, description, created_at)
SELECT id, 'signup_bonus', @bonus_micros, @bonus_micros, 50, NULL, 'signup', 'signup bonus', @now
FROM accounts
WHERE ext_id LIKE CONCAT(@prefix, '%') AND created_at = @now;

INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id,
                     hold_id, reference, description, created_at)
SELECT g.account_id, g.amount_micros, g.amount_micros, 'grant', 'signup_bonus', g.id,
       NULL, 'signup', 'signup bonus', @now
FROM grants g JOIN accounts a ON a.id = g.account_id
WHERE a.ext_id LIKE CONCAT(@prefix, '%') AND g.created_at = @now;

COMMIT;

SELECT COUNT(*) AS funded_accounts FROM accounts WHERE ext_id LIKE CONCAT(@prefix, '%');
