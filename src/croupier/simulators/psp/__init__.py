"""A payment-provider simulator: one process, real HTTP, one path prefix per provider, each speaking its protocol.

See `core` for what every simulated provider shares (transactions, faults, webhooks, settlement reports) and
`app` for how the process is assembled. docs/payment-simulator.md describes the control API.
"""
