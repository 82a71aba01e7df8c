"""Identity: brands (tenants and their per-brand rules), players and their credentials, back-office users, sessions
with rotating refresh tokens, and KYC status with its append-only history. Other services use it only through
croupier.identity.client and croupier.identity.events."""
