-- 041_lock_salt.sql: a name for creditctl sweep's lock that a co-tenant
-- cannot take.
--
-- MariaDB's named locks (GET_LOCK) belong to the server, not to a
-- database: on a shared server any user can take any name. creditctl
-- sweep's lock was 'creditd.sweep.<database>', which another site could
-- take and hold, and every cron run of this site would then do nothing
-- (holds never expiring, events never pushed). The name now carries a
-- random number kept in this database's settings, which only its users
-- can read (src/ledger/ledger_admin.c). A user who may see every
-- session's locks (the PROCESS privilege, or the metadata_lock_info
-- plugin) still sees it while it is held: docs/shared-hosting.md says so.
INSERT IGNORE INTO settings (name, value)
  VALUES ('lock_salt', CAST(CONV(HEX(RANDOM_BYTES(7)), 16, 10) AS SIGNED));
