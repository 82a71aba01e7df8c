"""Which providers a payment goes to, in which order.

1. Eligible: the provider serves the method, country and currency (and pays out, for a withdrawal), and if any
   enabled routing rule naming such a provider matches the payment (brand, country, method, currency, amount range,
   card BIN range; an empty field matches everything), only the providers those rules name, with the rules'
   priority and weight. Otherwise every such provider except those configured `routed_only` (a provider
   contracted for some brands: only a rule sends payments to it).
2. Out of rotation: a provider whose circuit breaker is open (a burst of consecutive failures) is skipped until its
   cool-down ends; then one payment tries it (half-open) and its result closes or reopens the breaker.
3. Order: by priority (lower first); within one priority, a weighted draw where the weight is multiplied by the
   provider's recent success rate (Laplace-smoothed over its last outcomes), so traffic shifts away from a provider
   that fails and back as it recovers. With probability `exploration` a random eligible provider goes first, so a
   provider with a poor record still gets a little traffic and can show it has recovered.

Breakers and success rates live in the process (each instance learns on its own, as a circuit breaker should).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from croupier.cashier.providers.config import ProviderConfig

#: Outcomes remembered per provider for its success rate.
WINDOW = 50


@dataclass(frozen=True, slots=True)
class Route:
    """A routing rule (a row of cashier.routes)."""

    provider: str
    priority: int = 100
    weight: int = 1
    brand_id: str | None = None
    country: str | None = None
    method: str | None = None
    currency: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    bin_from: str | None = None
    bin_to: str | None = None

    def _matches_kind(self, payment: RoutingRequest) -> bool:
        """The rule's brand, country, method and currency match the payment (its amount and card aside)."""
        return (
            (self.brand_id is None or self.brand_id == payment.brand_id)
            and (self.country is None or self.country == payment.country)
            and (self.method is None or self.method == payment.method)
            and (self.currency is None or self.currency == payment.currency)
        )

    def can_match(self, payment: RoutingRequest, lowest_amount: int) -> bool:
        """Whether the rule matches some payment like this one: same brand, country, method and currency, of some
        amount from `lowest_amount` up, with some card."""
        return (
            self._matches_kind(payment)
            and (self.max_amount is None or self.max_amount >= max(lowest_amount, self.min_amount or 0))
            and (self.bin_from is None or self.bin_to is None or self.bin_from <= self.bin_to)
        )

    def matches(self, payment: RoutingRequest) -> bool:
        if not self._matches_kind(payment):
            return False
        if self.min_amount is not None and payment.amount < self.min_amount:
            return False
        if self.max_amount is not None and payment.amount > self.max_amount:
            return False
        if self.bin_from is not None or self.bin_to is not None:
            if not payment.bin:
                return False
            width = len(self.bin_from or self.bin_to or "")
            card_bin = payment.bin[:width]
            if self.bin_from is not None and card_bin < self.bin_from:
                return False
            if self.bin_to is not None and card_bin > self.bin_to:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    kind: str  # deposit | withdrawal
    brand_id: str
    country: str
    method: str
    currency: str
    amount: int
    bin: str | None = None  # first digits of the card, when the method is card


@dataclass
class Breaker:
    failures: int = 0
    open_until: float = 0.0
    half_open: bool = False


@dataclass
class Health:
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))
    breaker: Breaker = field(default_factory=Breaker)

    @property
    def success_rate(self) -> float:
        """Laplace-smoothed: a provider with no history scores 0.5, never 0 or 1."""
        return (sum(self.outcomes) + 1) / (len(self.outcomes) + 2)


class Router:
    def __init__(
        self,
        providers: Sequence[ProviderConfig],
        *,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        exploration: float = 0.05,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_circuit_opened: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.providers = {provider.name: provider for provider in providers}
        self.breaker_failures = breaker_failures
        self.breaker_cooldown = breaker_cooldown
        self.exploration = exploration
        self._rng = rng or random.Random()
        self._now = monotonic
        self._health: dict[str, Health] = {name: Health() for name in self.providers}
        self._on_circuit_opened = on_circuit_opened

    def _serving(self, payment: RoutingRequest) -> dict[str, ProviderConfig]:
        return {
            name: provider
            for name, provider in self.providers.items()
            if provider.serves(payment.method, payment.country, payment.currency)
            and (payment.kind == "deposit" or provider.payouts)
        }

    def offered(
        self, kind: str, brand_id: str, country: str, method: str, currency: str, routes: Sequence[Route]
    ) -> bool:
        """Whether some payment of this kind, brand, country, method and currency (of any amount, with any card) has
        an eligible provider: what the methods listing asks before the player has entered either.

        With a provider open to every payment it serves, every such payment has one (when no rule takes it
        elsewhere, it goes there). Otherwise only the rules can provide one: a rule that names a provider serving
        the payment and that some amount and card match."""
        probe = RoutingRequest(kind, brand_id, country, method, currency, amount=0)
        serving = self._serving(probe)
        if any(not provider.routed_only for provider in serving.values()):
            return True
        lowest = 0 if method == "crypto" and kind == "deposit" else 1  # crypto deposits may leave the amount open
        return any(route.provider in serving and route.can_match(probe, lowest) for route in routes)

    def eligible(self, payment: RoutingRequest, routes: Sequence[Route]) -> list[tuple[ProviderConfig, int, int]]:
        """(provider, priority, weight) of every provider that may take the payment, breakers ignored."""
        serving = self._serving(payment)
        matching = [route for route in routes if route.matches(payment) and route.provider in serving]
        if matching:
            best: dict[str, tuple[ProviderConfig, int, int]] = {}
            for route in matching:  # a provider named by several rules keeps its best (lowest) priority
                current = best.get(route.provider)
                if current is None or route.priority < current[1]:
                    best[route.provider] = (serving[route.provider], route.priority, route.weight)
            return list(best.values())
        return [
            (provider, provider.priority, provider.weight) for provider in serving.values() if not provider.routed_only
        ]

    def order(self, payment: RoutingRequest, routes: Sequence[Route]) -> list[ProviderConfig]:
        """The providers to try, best first; those out of rotation are left out."""
        candidates = [item for item in self.eligible(payment, routes) if self._in_rotation(item[0].name)]
        ordered: list[ProviderConfig] = []
        for priority in sorted({priority for _, priority, _ in candidates}):
            group = [(provider, weight) for provider, p, weight in candidates if p == priority]
            while group:
                scores = [max(weight, 0) * self._health[provider.name].success_rate for provider, weight in group]
                if sum(scores) <= 0:
                    scores = [1.0] * len(group)
                index = self._rng.choices(range(len(group)), weights=scores)[0]
                ordered.append(group.pop(index)[0])
        if len(ordered) > 1 and self._rng.random() < self.exploration:
            explored = ordered.pop(self._rng.randrange(len(ordered)))
            ordered.insert(0, explored)
        return ordered

    def _in_rotation(self, name: str) -> bool:
        breaker = self._health[name].breaker
        if breaker.open_until == 0.0:
            return True
        if self._now() < breaker.open_until:
            return False
        if breaker.half_open:  # one payment is already trying it
            return False
        breaker.half_open = True
        return True

    def record(self, name: str, succeeded: bool) -> None:
        """The outcome of an attempt: success, or a failure of the provider (hard declines are not its fault)."""
        health = self._health.setdefault(name, Health())
        health.outcomes.append(succeeded)
        breaker = health.breaker
        if succeeded:
            health.breaker = Breaker()
            return
        breaker.failures += 1
        if breaker.half_open or breaker.failures >= self.breaker_failures:
            breaker.open_until = self._now() + self.breaker_cooldown
            breaker.half_open = False
            if self._on_circuit_opened is not None:
                self._on_circuit_opened(name, breaker.failures, self.breaker_cooldown)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each provider's recent success rate and breaker state, for the health endpoint."""
        now = self._now()
        out: dict[str, dict[str, Any]] = {}
        for name, health in self._health.items():
            breaker = health.breaker
            state = "closed"
            if breaker.open_until:
                state = "open" if now < breaker.open_until else "half_open"
            out[name] = {
                "recent_outcomes": len(health.outcomes),
                "recent_success_rate": round(health.success_rate, 4),
                "circuit": state,
                "consecutive_failures": breaker.failures,
                "reopens_in_seconds": round(max(breaker.open_until - now, 0.0), 3) if state == "open" else None,
            }
        return out
