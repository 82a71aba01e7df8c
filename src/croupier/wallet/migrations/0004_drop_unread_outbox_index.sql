-- The outbox's partial index on unpublished events is read by nothing: consumers read the wallet's events through the
-- feed (migration 0003: `(txid, id)` after a cursor), and no publisher marks `published_at`. Every transfer still paid
-- for it: one more B-tree insert (and its WAL) on the ledger's hottest write. No release ever queried it, so dropping
-- it follows the expand/contract rule of docs/migrations.md. A publisher that needs it later adds it back.
DROP INDEX IF EXISTS wallet.outbox_unpublished;
