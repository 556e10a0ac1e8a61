-- 005_drop_counters.sql: 001_init.sql created a counters table that no
-- code has ever read or written; a table nobody keeps only misleads.
DROP TABLE IF EXISTS counters;
