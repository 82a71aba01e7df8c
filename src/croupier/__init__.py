"""Croupier: the platform layer of an online casino."""

__version__ = "0.1.0"
