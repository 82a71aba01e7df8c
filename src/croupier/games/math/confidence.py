"""Confidence intervals for checking a simulated mean return against an exact RTP."""

import math
from dataclasses import dataclass

Z_999 = 3.2905267314919255  # two-sided 99.9 % normal quantile


@dataclass
class ReturnSample:
    """Running sums of per-round returns (multiples of the stake)."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.total_sq += value * value

    @property
    def mean(self) -> float:
        return self.total / self.n

    def half_width(self, z: float = Z_999) -> float:
        variance = (self.total_sq - self.n * self.mean * self.mean) / (self.n - 1)
        return z * math.sqrt(max(variance, 0.0) / self.n)

    def contains(self, expected: float, z: float = Z_999) -> bool:
        """Whether `expected` lies in the z-confidence interval of the sample mean."""
        return abs(self.mean - expected) <= self.half_width(z)
