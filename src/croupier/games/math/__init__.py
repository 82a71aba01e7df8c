"""Pure game math: outcome → multiplier mappings, pay tables, exact RTP. No I/O, no database, no RNG.

Every function takes outcomes as plain values (a dice roll in hundredths, a roulette pocket, card indices, ...)
and returns exact multipliers (`fractions.Fraction`); money is converted once, by `payout_amount`, which rounds
down to the minor unit.
"""
