"""The benchmark's accounts and traffic shapes, independent of the transport (HTTP or in-process).

Accounts: one brand with `PLAYERS` player cash accounts, a house bankroll (the hot account of a casino: every bet and
win touches it) and a house funding account that deposits a large balance into every player first, so no transfer
of the measured runs can fail for lack of funds.

Scenarios:
  uniform  transfers between two random distinct players: touched accounts are spread over the whole ledger;
  hot      every transfer touches the bankroll: bets (player -> bankroll) alternate with wins (bankroll -> player).
"""

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

Scenario = Literal["uniform", "hot"]
SCENARIOS: tuple[Scenario, ...] = ("uniform", "hot")

PLAYERS = 1000
CURRENCY = "EUR"
PLAYER_FUNDING = 10**12  # minor units per player: ten billion euros, far more than any run can move
MAX_AMOUNT = 5000  # each transfer moves 1..MAX_AMOUNT minor units
BATCH_LEGS = 100  # the wallet's largest atomic batch
SETUP_CONCURRENCY = 16


@dataclass(frozen=True)
class BenchAccounts:
    brand_id: str
    bankroll: UUID
    funding: UUID
    players: tuple[UUID, ...]


class TransferTraffic:
    """An endless, cheap stream of transfers for one scenario; keys are unique within the bench run."""

    def __init__(self, accounts: BenchAccounts, scenario: Scenario, key_prefix: str, seed: int = 0) -> None:
        self._accounts = accounts
        self._uniform = scenario == "uniform"
        self._key_prefix = key_prefix
        self._random = random.Random(seed)
        self._counter = itertools.count()

    @property
    def key_prefix(self) -> str:
        return self._key_prefix

    def next_payload(self) -> dict[str, Any]:
        """The next transfer, as the body of `POST /v1/wallet/transfers` (CreateTransferRequest's fields).

        The load generator shares the CPU it measures, so this is kept cheap: random() scaled rather than randrange
        (a third of the time), and the payload built at once rather than through an intermediate record.
        """
        number = next(self._counter)
        players = self._accounts.players
        draw = self._random.random
        amount = 1 + int(draw() * MAX_AMOUNT)
        if self._uniform:
            count = len(players)
            debit = int(draw() * count)
            credit = int(draw() * (count - 1))
            if credit >= debit:  # a random player other than the debit one, without retrying
                credit += 1
            debit_id, credit_id, type_ = players[debit], players[credit], "transfer"
        else:
            player = players[int(draw() * len(players))]
            if number % 2 == 0:
                debit_id, credit_id, type_ = player, self._accounts.bankroll, "bet"
            else:
                debit_id, credit_id, type_ = self._accounts.bankroll, player, "win"
        return {
            "idempotency_key": f"{self._key_prefix}{number}",
            "debit_account_id": debit_id,
            "credit_account_id": credit_id,
            "amount": amount,
            "currency": CURRENCY,
            "type": type_,
        }


class WalletSetup(Protocol):
    """What setting up the accounts needs from a transport."""

    async def open_account(self, payload: dict[str, Any]) -> UUID:
        """Open the account described by an OpenAccountRequest payload; return its id."""
        ...

    async def transfer_batch(self, payload: dict[str, Any]) -> None:
        """Apply a CreateBatchRequest payload; raise on any refusal."""
        ...


def _account_payload(brand_id: str, owner_type: str, owner_id: str, kind: str, allow_negative: bool) -> dict[str, Any]:
    return {
        "brand_id": brand_id,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "kind": kind,
        "currency": CURRENCY,
        "allow_negative": allow_negative,
    }


Result = TypeVar("Result")


async def _bounded(
    concurrency: int, payloads: Iterable[dict[str, Any]], call: Callable[[dict[str, Any]], Awaitable[Result]]
) -> list[Result]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(payload: dict[str, Any]) -> Result:
        async with semaphore:
            return await call(payload)

    return list(await asyncio.gather(*(one(payload) for payload in payloads)))


async def set_up_accounts(setup: WalletSetup, brand_id: str, nonce: str, players: int = PLAYERS) -> BenchAccounts:
    """Open the bankroll, the funding account and the players, then fund every player in batches of 100."""
    bankroll = await setup.open_account(_account_payload(brand_id, "house", "house", "bankroll", True))
    funding = await setup.open_account(_account_payload(brand_id, "house", "house", "adjustment", True))
    player_payloads = (
        _account_payload(brand_id, "player", f"bench-{nonce}-{number}", "cash", False) for number in range(players)
    )
    player_ids = tuple(await _bounded(SETUP_CONCURRENCY, player_payloads, setup.open_account))
    batches = (
        {
            "idempotency_key": f"bench-{nonce}-funding-{first}",
            "transfers": [
                {
                    "debit_account_id": funding,
                    "credit_account_id": player,
                    "amount": PLAYER_FUNDING,
                    "currency": CURRENCY,
                    "type": "deposit",
                }
                for player in player_ids[first : first + BATCH_LEGS]
            ],
        }
        for first in range(0, len(player_ids), BATCH_LEGS)
    )
    await _bounded(SETUP_CONCURRENCY, batches, setup.transfer_batch)
    return BenchAccounts(brand_id=brand_id, bankroll=bankroll, funding=funding, players=player_ids)
