-- 053_tx_marks.sql: on Galera, a transaction marks the accounts it locks,
-- and looks at its mark before it commits (src/store/store_end.c).
--
-- 043 locks an account on Galera by writing it, so that a brute-force
-- abort (a commit applied from another node taking the row) is told to
-- the transaction at its next statement. Inside a stored procedure it is
-- not always told: the abort's error can be eaten, the procedure's
-- statements before it rolled back, those after it run on in a new
-- transaction, and the CALL answers success (mysql-wsrep #191, MDEV-20225).
-- The client then commits the new transaction: a balance decided on a
-- row whose lock was lost, without the grants and journal rows the
-- aborted part wrote (seen under every writer at once on three nodes: a
-- referrer's balance off its journal by one reward).
--
-- So each lock writes accounts.tx_mark, a number of 63 random bits drawn
-- for the transaction, and before its COMMIT the transaction reads the
-- mark of the first account it locked: its own mark while nothing was
-- rolled back, another's (what is committed) after an abort it was not
-- told of. Then it rolls back and runs again, as for a deadlock. The
-- column is instant (a default), read by nothing else, and not in the
-- view cd_account_rows. On one server nothing writes it.
--
-- cd_batch_mark_read is 043's cd_batch_lock_read writing the mark: a
-- creditd before 053 calls cd_batch_lock_read, which stays. p_first is
-- the account the transaction marked first (0: none yet): it is locked
-- already and never marked again here (an abort eaten in this CALL
-- before its UPDATE would otherwise mark it anew in the new transaction,
-- and the commit's check would pass).
ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS tx_mark BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE PROCEDURE cd_batch_mark_read(IN p_mark BIGINT, IN p_first BIGINT UNSIGNED, IN p_page INT, IN p_ids LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_ext LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_holds LONGTEXT CHARACTER SET utf8mb4, IN p_reqs LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_members LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_usages LONGTEXT CHARACTER SET utf8mb4, IN p_spend_ids LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_spend_ext LONGTEXT CHARACTER SET utf8mb4, IN p_keys LONGTEXT CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_ids LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  IF p_ids IS NOT NULL OR p_ext IS NOT NULL THEN
    SELECT COALESCE(JSON_ARRAYAGG(DISTINCT u.id ORDER BY u.id), '[]') INTO v_ids FROM (
      SELECT j.id FROM JSON_TABLE(COALESCE(p_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      UNION ALL
      SELECT a.id FROM JSON_TABLE(COALESCE(p_ext, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
        STRAIGHT_JOIN accounts a ON a.ext_id = k.e) u;
    -- In ascending id order, as 043 locks them.
    UPDATE JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
       SET a.tx_mark = p_mark
     WHERE a.id <> p_first;
  END IF;
  CALL cd_batch_read(1, p_page, p_ids, p_ext, p_holds, p_reqs, p_members, p_usages, p_spend_ids, p_spend_ext, p_keys);
END;
