"""The wallet: player and house accounts, the double-entry ledger of immutable transfers, holds, idempotency records
and the wallet's outbox. Other services use it only through croupier.wallet.client and croupier.wallet.events."""
