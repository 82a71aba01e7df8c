"""Reel slots defined by a data file: the loader, the spin evaluator and the exact RTP over the reel strips."""
