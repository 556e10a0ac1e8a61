-- 013_hold_output.sql: shrink instead of refusing (DESIGN §9). A hold of a
-- model records the output it was granted: the request's max_output_tokens,
-- or fewer when only that many were affordable (min_output_tokens), so a
-- replay answers the same number. NULL: an action's hold (no tokens).
ALTER TABLE holds ADD COLUMN max_output_tokens BIGINT NULL;
