"""A plain transfer takes the rules' short way (BatchApplier._plain_transfer); every outcome is the general way's.

Random sequences of transfers, one-leg batches, holds and reversals by key are applied in memory twice to the same
accounts: once as the ledger applies them, and once with the short way turned off, so that every transfer goes
through `_single` (`_pair`, `_check_debit`, `_move`, `_record`). The accounts include unknown ids, other currencies
and brands, house accounts that may go negative and totals next to the largest the ledger stores, so that every
refusal a plain transfer can meet is met. Both ways must give the same results and refusals, the same rows to write
(in the same column order), the same totals and the same transfers known to later commands.
"""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import example, given, settings
from hypothesis import strategies as st

from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet.batches import apply_batch
from croupier.wallet.commands import Command, Leg, Outcome
from croupier.wallet.rules import BatchApplier
from croupier.wallet.state import AccountState

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
# (brand, currency, allow_negative); the last id is never an account.
ACCOUNTS = [
    ("brand-a", "EUR", True),
    ("brand-a", "EUR", False),
    ("brand-a", "EUR", False),
    ("brand-a", "USD", False),
    ("brand-b", "EUR", False),
]
IDS = [UUID(int=index + 1) for index in range(len(ACCOUNTS) + 1)]
NEAR_MAX = MAX_MINOR_UNITS - 1_000

totals = st.sampled_from([0, 10, 1_000, NEAR_MAX])
account = st.integers(0, len(IDS) - 1)
# Past 1,000 a credit to a NEAR_MAX total overflows; MAX_MINOR_UNITS overflows any total but 0.
amounts = st.one_of(st.sampled_from([1, 10, 999, 1_001, 5_000, MAX_MINOR_UNITS]), st.integers(1, 2_000))
currency = st.sampled_from(["EUR", "EUR", "USD"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("transfer"), account, account, amounts, currency),
        st.tuples(st.just("batch"), account, account, amounts, currency),
        st.tuples(st.just("hold"), account, account, amounts, currency),
        st.tuples(st.just("expiring"), account, account, amounts, currency),  # a transfer that names a time
        st.tuples(st.just("reversal"), st.integers(0, 40)),
        st.tuples(st.just("reversal_by_id"), st.integers(0, 40)),
        st.tuples(st.just("post"), st.integers(0, 40), st.none() | st.integers(1, 2_000)),
        st.tuples(st.just("void"), st.integers(0, 40)),
        st.tuples(st.just("replay"), st.integers(0, 40)),
    ),
    max_size=40,
)
# Each example mints its ids in a millisecond of its own, so that the counter never wraps within one (see below).
_milliseconds = itertools.count()


class GeneralWayOnly(BatchApplier):
    """The rules with the short way turned off: every transfer is applied by `_single`."""

    def _plain_transfer(self, command: Command) -> dict[str, Any] | None:
        return None


def _accounts(starting: list[tuple[int, int, int]]) -> dict[UUID, AccountState]:
    return {
        IDS[index]: AccountState(IDS[index], brand, currency, negative, debits, credits, pending, 0)
        for index, ((brand, currency, negative), (debits, credits, pending)) in enumerate(
            zip(ACCOUNTS, starting, strict=True)
        )
    }


def _command(number: int, step: tuple[Any, ...], earlier: list[tuple[Command, Outcome]]) -> Command | None:
    """The step's command. Reversals by id and hold resolutions name a transfer or hold an earlier command of this
    same applier made (each way mints its own ids); None if there is none to name."""
    key = f"key-{number}"
    kind = step[0]
    if kind in ("transfer", "batch", "hold", "expiring"):
        _, debit, credit, amount, leg_currency = step
        leg = Leg(IDS[debit], IDS[credit], amount, leg_currency, "bet", {"round": number} if number % 3 else {})
        trace = f"trace-{number}" if number % 2 else None
        if kind == "expiring":
            return Command("transfer", key, legs=(leg,), expires_at=NOW + timedelta(hours=1), trace_id=trace)
        return Command(kind, key, legs=(leg,), trace_id=trace)
    if not earlier:
        return None
    if kind == "replay":
        return earlier[step[1] % len(earlier)][0]
    if kind == "reversal":
        return Command("reversal", key, target_key=earlier[step[1] % len(earlier)][0].key, type="adjustment")
    rows = [
        outcome.result["transfer"]
        for _, outcome in earlier
        if outcome.result is not None and "transfer" in outcome.result
    ]
    wanted = [row for row in rows if (row["kind"] == "hold") == (kind in ("post", "void"))]
    if not wanted:
        return None
    row = wanted[step[1] % len(wanted)]
    if kind == "reversal_by_id":
        return Command("reversal", key, target_id=row["id"], type="adjustment")
    if kind == "post":
        return Command("hold_post", key, hold_id=row["id"], amount=step[2])
    return Command("hold_void", key, hold_id=row["id"])


def _without_ids(value: Any, ids: dict[UUID, int]) -> Any:
    """The value with each minted transfer id replaced by its order of minting (both ways mint their own)."""
    if isinstance(value, UUID) and value not in IDS:
        return ("minted", ids.setdefault(value, len(ids)))
    if isinstance(value, dict):
        return [(key, _without_ids(item, ids)) for key, item in value.items()]  # keys in order
    if isinstance(value, (list, tuple)):
        return [_without_ids(item, ids) for item in value]
    return value


def _outcome(outcome: Outcome, ids: dict[UUID, int]) -> Any:
    if outcome.error is not None:
        error = outcome.error
        told = repr((type(error).__name__, error.code, str(error), error.extensions))
        for minted, order in ids.items():  # an error names transfers by their ids' text
            told = told.replace(str(minted), f"minted-{order}")
        return ("refused", told)
    return ("done", outcome.replayed, _without_ids(outcome.result, ids))


def _applied(
    applier_type: type[BatchApplier], starting: list[tuple[int, int, int]], steps: list[Any], now: datetime
) -> Any:
    accounts = _accounts(starting)
    applier = applier_type(now, accounts, {}, {}, {}, ids_ahead=len(steps))
    ids: dict[UUID, int] = {}
    earlier: list[tuple[Command, Outcome]] = []
    naming: set[str] = set()
    outcomes = []
    for number, step in enumerate(steps):
        command = _command(number, step, earlier)
        if command is None:
            continue
        if command.target_id is not None or command.hold_id is not None:
            naming.add(command.key)
        outcome = applier.apply(command)
        earlier.append((command, outcome))
        outcomes.append(_outcome(outcome, ids))
    known = applier.known_transfers()
    return {
        "outcomes": outcomes,
        "totals": {account_id: account.counters() for account_id, account in accounts.items()},
        # A command naming a minted id fingerprints that id: its digest differs between the ways by design.
        "requests": _without_ids(
            [
                (key, kind, b"" if key in naming else digest, result)
                for key, kind, digest, result in applier.new_requests
            ],
            ids,
        ),
        "transfers": _without_ids(applier.new_transfers, ids),
        "debit_ids": applier.debit_ids,
        "credit_ids": applier.credit_ids,
        "traces": applier.transfer_traces,
        "events": _without_ids(applier.events, ids),
        "touched": applier.touched,
        "known": _without_ids([(key, known[key].row, known[key].reversed_by) for key in known], ids),
        "by_key": _without_ids(applier.transfers_by_key, ids),
        "minted": sorted(ids, key=ids.__getitem__),
    }


ZERO = (0, 0, 0)


@settings(max_examples=600, deadline=None)
# Each refusal a plain transfer can meet, and the house's overdraft, whatever hypothesis draws besides:
@example(starting=[(NEAR_MAX, 0, 0), *[ZERO] * 4], steps=[("transfer", 0, 1, 5_000, "EUR")])  # debit overflows
@example(starting=[ZERO, (0, NEAR_MAX, 0), *[ZERO] * 3], steps=[("transfer", 0, 1, 5_000, "EUR")])  # credit does
@example(starting=[ZERO, (0, 10, 5), *[ZERO] * 3], steps=[("transfer", 1, 2, 10, "EUR")])  # 5 of 10 held
@example(starting=[ZERO] * 5, steps=[("transfer", 0, 1, 10, "EUR"), ("transfer", 1, 5, 1, "EUR")])  # unknown
@example(starting=[ZERO] * 5, steps=[("transfer", 0, 3, 10, "USD"), ("transfer", 0, 4, 10, "EUR")])  # currency, brand
# Exactly at each limit and one unit past it: a total landing on the largest stored, then one more; a player's
# whole available balance, then one more (with and without held funds).
@example(
    starting=[(NEAR_MAX, 0, 0), *[ZERO] * 4],
    steps=[("transfer", 0, 1, 1_000, "EUR"), ("transfer", 0, 2, 1, "EUR")],
)
@example(
    starting=[(NEAR_MAX, 0, 0), *[ZERO] * 4],
    steps=[("transfer", 0, 1, 1_001, "EUR"), ("transfer", 0, 1, 1_000, "EUR")],
)
@example(
    starting=[ZERO, (0, NEAR_MAX, 0), *[ZERO] * 3],
    steps=[("transfer", 0, 1, 1_001, "EUR"), ("transfer", 0, 1, 1_000, "EUR"), ("transfer", 0, 1, 1, "EUR")],
)
@example(
    starting=[ZERO, (0, 1_000, 0), (0, 1_000, 5), *[ZERO] * 2],
    steps=[
        ("transfer", 1, 0, 1_001, "EUR"),
        ("transfer", 1, 0, 1_000, "EUR"),
        ("transfer", 2, 0, 996, "EUR"),
        ("transfer", 2, 0, 995, "EUR"),
    ],
)
@given(starting=st.lists(st.tuples(totals, totals, st.sampled_from([0, 5])), min_size=5, max_size=5), steps=operations)
def test_plain_transfers_when_applied_the_short_way_match_the_general_way(
    starting: list[tuple[int, int, int]], steps: list[Any]
) -> None:
    now = NOW + timedelta(milliseconds=next(_milliseconds))
    short = _applied(BatchApplier, starting, steps, now)
    general = _applied(GeneralWayOnly, starting, steps, now)
    minted = short.pop("minted")
    general.pop("minted")
    assert short == general
    # The ids the short way minted increase in the order of the transfers (one millisecond, counted in order).
    assert minted == sorted(minted)


def test_plain_transfer_when_refused_changes_nothing_and_names_the_first_failure() -> None:
    accounts = _accounts([(0, 100, 0), (0, 50, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    applier = BatchApplier(NOW, accounts, {}, {}, {})
    before = {account_id: account.counters() for account_id, account in accounts.items()}
    # Both the currency (USD account 3) and the funds (player 1 has 50) fail: `_pair` comes first, as in _single.
    outcome = applier.apply(Command("transfer", "k1", legs=(Leg(IDS[1], IDS[3], 60, "EUR", "bet", {}),)))
    assert outcome.error is not None
    assert outcome.error.code == "currency_mismatch"
    outcome = applier.apply(Command("transfer", "k2", legs=(Leg(IDS[1], IDS[2], 60, "EUR", "bet", {}),)))
    assert outcome.error is not None
    assert outcome.error.code == "insufficient_funds"
    assert {account_id: account.counters() for account_id, account in accounts.items()} == before
    assert applier.new_transfers == []
    assert applier.new_requests == []
    assert applier.touched == set()


def test_reversal_in_the_batch_of_its_plain_transfer_finds_it() -> None:
    """Plain transfers are indexed for later commands only when one needs them; a reversal in the same batch does."""
    accounts = _accounts([(0, 100, 0), (0, 50, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    applier = BatchApplier(NOW, accounts, {}, {}, {})
    done = applier.apply(Command("transfer", "bet-1", legs=(Leg(IDS[1], IDS[0], 30, "EUR", "bet", {}),)))
    assert done.result is not None
    reversed_ = applier.apply(Command("reversal", "undo-1", target_key="bet-1", type="adjustment"))
    assert reversed_.result is not None
    assert reversed_.result["status"] == "reversed"
    assert reversed_.result["transfers"][0]["reverses_id"] == done.result["transfer"]["id"]
    assert accounts[IDS[1]].posted == 50
    again = applier.apply(Command("reversal", "undo-2", target_key="bet-1", type="adjustment"))
    assert again.error is not None
    assert again.error.code == "already_reversed"


def test_batch_in_flight_when_a_command_names_its_plain_transfer_is_waited_for() -> None:
    """The next batch reads records from the database, where a batch in flight has not committed its own: a
    command naming its key or one of its transfers must wait for it (AppliedBatch.depends_on), however the
    transfer was applied."""
    accounts = _accounts([(0, 100, 0), (0, 50, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    applied = apply_batch(
        NOW, [Command("transfer", "bet-1", legs=(Leg(IDS[1], IDS[0], 30, "EUR", "bet", {}),))], accounts, {}, {}, {}
    )
    applied.fast = True
    assert applied.outcomes[0].result is not None
    transfer_id = applied.outcomes[0].result["transfer"]["id"]
    other = Command("transfer", "bet-2", legs=(Leg(IDS[2], IDS[0], 1, "EUR", "bet", {}),))
    assert not applied.depends_on([other])
    assert applied.depends_on([other, Command("reversal", "undo-1", target_id=transfer_id, type="adjustment")])
    assert applied.depends_on([Command("reversal", "undo-2", target_key="bet-1", type="adjustment")])
    assert applied.depends_on([Command("transfer", "bet-1", legs=other.legs)])
