-- Crypto deposits the compliance gate refuses on arrival are held for an admin's decision: the coins cannot be
-- refused on chain, so they move from the provider's clearing account to a suspense account (held_transfer_id,
-- the wallet transfer) and wait there, never playable, until released to the player or sent back.
ALTER TABLE cashier.payments ADD COLUMN held_transfer_id uuid;
CREATE INDEX payments_held ON cashier.payments (updated_at) WHERE kind = 'deposit' AND status = 'held';
