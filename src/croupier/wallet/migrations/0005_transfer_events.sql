-- Transfer events by reference: one row per transaction names the transfers it committed.
--
-- The event of a transfer (`wallet.transfer.committed`, or a hold's event) is the transfer row itself, and transfers
-- never change. Written to wallet.outbox, every transfer paid for a second copy of its row (about 600 bytes of JSON
-- for PostgreSQL to parse and log) plus an outbox row with two B-tree entries: about a fifth of PostgreSQL's work per
-- transfer. Now the batch write, in the same statement (so the same transaction) as the transfers, adds one row here
-- naming them, and the feed renders each event from its transfer row (docs/adr/0005, session 7 addendum).
--
-- `txid` is the writing transaction, as in the outbox (migration 0003): the feed returns the events of finished
-- transactions in (txid, transfer id) order. One row per transaction (the primary key): a transaction that writes
-- transfers writes them in one statement. `trace_ids`, when present, holds each transfer's trace id, in the order of
-- `transfer_ids`.
--
-- Expand only: wallet.outbox keeps every event written before this version, and still receives the other events
-- (tombstones, accounts opened) and, with `wallet_events_by_reference` off, transfer events as before. The feed reads
-- both tables.
CREATE TABLE wallet.transfer_events (
    txid            xid8 PRIMARY KEY DEFAULT pg_current_xact_id(),
    transfer_ids    uuid[] NOT NULL CHECK (cardinality(transfer_ids) > 0),
    trace_ids       text[] CHECK (cardinality(trace_ids) = cardinality(transfer_ids))
);
-- A batch's row is about 16 bytes per transfer: past 2 kB PostgreSQL would try to compress it (random UUIDs do not
-- compress; that attempt cost about 1 % of its CPU per transfer) or move it out of line. Kept in line, as it is, up to
-- the largest target a page allows; a larger batch's row is still stored out of line.
ALTER TABLE wallet.transfer_events SET (toast_tuple_target = 8160);
CREATE TRIGGER transfer_events_append_only BEFORE UPDATE OR DELETE ON wallet.transfer_events
    FOR EACH ROW EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER transfer_events_no_truncate BEFORE TRUNCATE ON wallet.transfer_events
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_change();
