-- A withdrawal that ends unpaid (failed, rejected, canceled) releases its wallet hold in a call after the status
-- change: released_at records that the release is done, so the recovery worker can finish one a crash interrupted.
ALTER TABLE cashier.payments ADD COLUMN released_at timestamptz;
CREATE INDEX payments_unreleased ON cashier.payments (updated_at)
    WHERE kind = 'withdrawal' AND hold_id IS NOT NULL AND released_at IS NULL
      AND status IN ('failed', 'rejected', 'canceled');
