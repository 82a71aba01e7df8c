"""Simulators of the outside parties Croupier talks to (registers, payment providers, game studios).

Each is a real HTTP server speaking the party's protocol, with admin endpoints to seed data and inject faults, so
tests and local runs exercise the real adapters over real sockets.
"""
