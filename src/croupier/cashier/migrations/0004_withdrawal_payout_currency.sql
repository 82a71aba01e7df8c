-- A withdrawal may be paid out in another currency than the wallet's (a EUR wallet paid in USDT or BRL). The hold
-- and the debit are in the wallet's currency: wallet_amount. currency/amount stay what the provider pays out,
-- converted at the rate recorded in cashier.conversions when the withdrawal was requested.
ALTER TABLE cashier.payments ADD COLUMN wallet_amount bigint CHECK (wallet_amount > 0);
UPDATE cashier.payments SET wallet_amount = amount WHERE kind = 'withdrawal' AND amount > 0;
