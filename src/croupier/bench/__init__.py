"""Benchmarks: commands that measure and print numbers (`croupier bench ...`), never tests that pass or fail.

`croupier bench wallet` compares the wallet ledger with pgbench on the same PostgreSQL; see docs/benchmarks.md.
"""
