-- 044_hold_ids.sql: hold ids nobody can guess (DESIGN §14, "Hold ids are
-- not guessable in sequence").
--
-- A hold's id was "hold_<account>_<n>", n counting up: whoever saw one
-- could name the next. creditd now gives out "hold_" and 32 hex digits,
-- the account's and the hold's row ids enciphered with a key kept here
-- (src/core/holdid.c), read once by each process. The key is 21 random
-- bytes in three settings (a setting is a BIGINT; creditd takes 16).
-- hold_id_opaque_from is the first hold made under it: a hold made before
-- (given out in the old form) is still found by its old id, no later one.
INSERT IGNORE INTO settings (name, value) VALUES
  ('hold_id_key_1', CAST(CONV(HEX(RANDOM_BYTES(7)), 16, 10) AS SIGNED)),
  ('hold_id_key_2', CAST(CONV(HEX(RANDOM_BYTES(7)), 16, 10) AS SIGNED)),
  ('hold_id_key_3', CAST(CONV(HEX(RANDOM_BYTES(7)), 16, 10) AS SIGNED));
INSERT IGNORE INTO settings (name, value)
  SELECT 'hold_id_opaque_from', COALESCE(MAX(id), 0) + 1 FROM holds;
