-- The outbox as a feed that consumers can read in order without ever skipping an event.
--
-- Event ids (UUIDv7) are made before the transaction commits, so reading "id > last id seen" could skip an event
-- whose transaction committed after a later one. Each row now records the id of the transaction that wrote it, and
-- the feed returns only rows of transactions older than the oldest one still running (pg_snapshot_xmin): those are
-- all finished, so nothing can appear behind the cursor any more. Rows written before this migration get txid 1.
ALTER TABLE wallet.outbox ADD COLUMN txid xid8;
ALTER TABLE wallet.outbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
UPDATE wallet.outbox SET txid = '1'::xid8 WHERE txid IS NULL;
CREATE INDEX outbox_feed ON wallet.outbox (txid, id);
