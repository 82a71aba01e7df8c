"""What every single-step game shares: no actions, the round settles when it starts, `finish` is `play`."""

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput, Progress
from croupier.games.engines.inputs import stake_amount
from croupier.games.rng.versions import RngVersion


class SingleStepEngine(ABC):
    name: str
    multi_step = False

    @abstractmethod
    def describe(self, settings: Mapping[str, Any]) -> JSON: ...

    @abstractmethod
    def check_settings(self, settings: Mapping[str, Any]) -> JSON: ...

    @abstractmethod
    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON: ...

    @abstractmethod
    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        """(payout, outcome JSON) of the round; params and settings arrive normalised."""

    def play(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> Progress:
        if actions:
            raise InvalidGameInput(f"{self.name} takes no actions: the round settles as it starts")
        stake = stake_amount(stake)
        normalised_settings = self.check_settings(settings)
        normalised_params = self.check_params(params, stake, normalised_settings)
        payout, outcome = self.settle(rng, seeds, normalised_params, normalised_settings, stake)
        return Progress(
            staked=stake,
            settled=True,
            payout=payout,
            view=copy.deepcopy(outcome),
            outcome=outcome,
            detail={"rng_version": rng.name},
        )

    def finish(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[tuple[JSON, ...], Progress]:
        return (), self.play(rng, seeds, params, settings, stake, actions)
