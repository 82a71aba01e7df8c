"""The compliance service: responsible-gambling limits, time-outs and self-exclusions, geo rules, the external
self-exclusion register, and the gate that decides every register, login, deposit, bet and withdrawal, with its
append-only decision log."""
