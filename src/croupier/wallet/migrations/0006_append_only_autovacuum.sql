-- Autovacuum works through the ledger's append-only tables without its cost-based delay.
--
-- Why: the accounts table is the most updated set of rows in the platform (a busy house account many times a
-- second), and its updates stay cheap only while each page's old row versions are pruned as the page is next used.
-- Pruning may remove a version only once no snapshot can still see it. An autovacuum of these large tables ends with
-- an ANALYZE, which holds a snapshot while it samples rows. Throttled by the default cost-based delay, that sample
-- took about 5 seconds on a freshly written table: reading a page there sets its rows' hint bits, which the delay
-- charges as dirtying it. Meanwhile nothing in the accounts table could be pruned, so at 50,000 transfers a second
-- the table grew from 46 to 2,184 pages, updates stopped being HOT, its indexes grew fivefold, and PostgreSQL's CPU
-- per transfer doubled for as long as the bloat lasted (docs/benchmarks.md, session 11). Without the delay the sample
-- takes a fraction of a second, and in the same load the accounts table peaked at 186 pages.
--
-- The vacuum of an append-only table reads each new page once and marks it all-visible; unthrottled, that work comes
-- in shorter bursts. An operator whose disks cannot take them can restore a delay per table with
-- ALTER TABLE ... SET (autovacuum_vacuum_cost_delay = ...), or RESET it. Only storage parameters change here: no data,
-- nothing to roll back (docs/migrations.md).
ALTER TABLE wallet.requests SET (autovacuum_vacuum_cost_delay = 0);
ALTER TABLE wallet.transfers SET (autovacuum_vacuum_cost_delay = 0);
ALTER TABLE wallet.transfer_events SET (autovacuum_vacuum_cost_delay = 0);
