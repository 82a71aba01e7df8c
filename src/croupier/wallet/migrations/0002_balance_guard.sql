-- The guard of the optimistic ledger writer (docs/adr/0005-pipelined-optimistic-ledger-writer.md).
--
-- The writer applies a batch to account totals it read without locking them, then writes every touched account with
-- a compare-and-swap UPDATE (only if all four totals are still the ones it read). The write statement passes the
-- number of rows that UPDATE changed, and the number it expected, to this function. If another transaction changed
-- one of the accounts in between, the counts differ and the whole statement fails with serialization_failure
-- (SQLSTATE 40001): nothing of the batch is written, and the writer applies the batch again under row locks.
CREATE FUNCTION wallet.expect_accounts_updated(updated bigint, expected bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF updated <> expected THEN
        RAISE EXCEPTION 'wallet: % of % account totals changed since the batch read them', expected - updated, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN updated;
END
$$;
