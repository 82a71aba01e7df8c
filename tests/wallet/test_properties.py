"""Property-based: random sequences of transfers, holds, posts, voids, reversals and replays.

An independent model (plain dicts, written from the rules, not from the implementation) predicts each outcome and
every balance. After each example: the service agrees with the model, money is conserved (balances sum to zero), and
`verify_ledger` finds every stored balance equal to the sum of its entries.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.errors import DomainError
from croupier.wallet.client import (
    CreateHoldRequest,
    CreateTransferRequest,
    InProcessWalletClient,
    OpenAccountRequest,
    PostHoldRequest,
    ReverseTransferRequest,
    VoidHoldRequest,
)
from croupier.wallet.verify import verify_ledger

# Account 0: house bankroll (may go negative); 1-3: players; 4: a house pool that may not go negative.
ACCOUNTS = 5
ALLOW_NEGATIVE = [True, False, False, False, False]

amounts = st.integers(min_value=1, max_value=500)
account_index = st.integers(min_value=0, max_value=ACCOUNTS - 1)
operations = st.one_of(
    st.tuples(st.just("transfer"), account_index, account_index, amounts),
    st.tuples(st.just("hold"), account_index, account_index, amounts),
    st.tuples(st.just("post"), st.integers(0, 30), st.none() | amounts),
    st.tuples(st.just("void"), st.integers(0, 30)),
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("replay"), st.integers(0, 30)),
)


@dataclass
class Model:
    posted: list[int] = field(default_factory=lambda: [0] * ACCOUNTS)
    pending_debits: list[int] = field(default_factory=lambda: [0] * ACCOUNTS)
    pending_credits: list[int] = field(default_factory=lambda: [0] * ACCOUNTS)
    # holds: id -> [debit, credit, amount, open]
    holds: list[list[Any]] = field(default_factory=list)
    # money movements that may be reversed: [debit, credit, amount, reversed, is_reversal]
    movements: list[list[Any]] = field(default_factory=list)

    def available(self, index: int) -> int:
        return self.posted[index] - self.pending_debits[index]

    def can_debit(self, index: int, amount: int) -> bool:
        return ALLOW_NEGATIVE[index] or self.available(index) >= amount


async def run_scenario(platform: Platform, ops: list[tuple[Any, ...]]) -> None:
    client = InProcessWalletClient(platform.wallet)  # type: ignore[arg-type]
    brand = f"prop-{uuid.uuid4().hex[:8]}"
    ids = []
    for index in range(ACCOUNTS):
        owner_type = "house" if index in (0, 4) else "player"
        account = await client.open_account(
            OpenAccountRequest(
                brand_id=brand,
                owner_type=owner_type,
                owner_id=f"owner-{index}",
                kind="bankroll" if index == 0 else ("bonus_pool" if index == 4 else "cash"),
                currency="EUR",
                allow_negative=ALLOW_NEGATIVE[index],
            )
        )
        ids.append(account.id)
    model = Model()
    hold_ids: list[Any] = []
    movement_ids: list[Any] = []
    history: list[tuple[str, Any, Any]] = []  # (kind, request, result) for replays
    for index in range(1, ACCOUNTS):  # fund players and the pool from the bankroll, so most operations can succeed
        funded = await client.transfer(
            CreateTransferRequest(
                idempotency_key=uuid.uuid4().hex,
                debit_account_id=ids[0],
                credit_account_id=ids[index],
                amount=1000,
                currency="EUR",
                type="deposit",
            )
        )
        model.posted[0] -= 1000
        model.posted[index] += 1000
        model.movements.append([0, index, 1000, False, False])
        movement_ids.append(funded.transfer.id)

    async def attempt(kind: str, call: Any, request: Any, *args: Any) -> Any:
        try:
            result = await call(*args, request)
        except DomainError as error:
            return error
        history.append((kind, (call, args, request), result))
        return result

    for op in ops:
        name = op[0]
        if name in ("transfer", "hold"):
            _, source, target, amount = op
            if source == target:
                continue
            fields = {
                "idempotency_key": uuid.uuid4().hex,
                "debit_account_id": ids[source],
                "credit_account_id": ids[target],
                "amount": amount,
                "currency": "EUR",
                "type": "bet",
            }
            expected_ok = model.can_debit(source, amount)
            if name == "transfer":
                outcome = await attempt(name, _call(client.transfer), CreateTransferRequest(**fields))
            else:
                outcome = await attempt(name, _call(client.create_hold), CreateHoldRequest(**fields))
            assert (not isinstance(outcome, DomainError)) == expected_ok, (op, outcome)
            if isinstance(outcome, DomainError):
                assert outcome.code == "insufficient_funds"
                continue
            if name == "transfer":
                model.posted[source] -= amount
                model.posted[target] += amount
                model.movements.append([source, target, amount, False, False])
                movement_ids.append(outcome.transfer.id)
            else:
                model.pending_debits[source] += amount
                model.pending_credits[target] += amount
                model.holds.append([source, target, amount, True])
                hold_ids.append(outcome.transfer.id)
        elif name in ("post", "void"):
            if not model.holds:
                continue
            index = op[1] % len(model.holds)
            source, target, held, is_open = model.holds[index]
            amount = op[2] if name == "post" else None
            if name == "post":
                request: Any = PostHoldRequest(idempotency_key=uuid.uuid4().hex, amount=amount)
                outcome = await attempt(name, _call(client.post_hold), request, hold_ids[index])
            else:
                request = VoidHoldRequest(idempotency_key=uuid.uuid4().hex)
                outcome = await attempt(name, _call(client.void_hold), request, hold_ids[index])
            if not is_open:
                assert isinstance(outcome, DomainError)
                assert outcome.code == "hold_already_resolved"
                continue
            if name == "post" and amount is not None and amount > held:
                assert isinstance(outcome, DomainError)
                assert outcome.code == "post_exceeds_hold"
                continue
            assert not isinstance(outcome, DomainError), (op, outcome)
            model.holds[index][3] = False
            model.pending_debits[source] -= held
            model.pending_credits[target] -= held
            if name == "post":
                moved = held if amount is None else amount
                model.posted[source] -= moved
                model.posted[target] += moved
                model.movements.append([source, target, moved, False, False])
                movement_ids.append(outcome.transfer.id)
        elif name == "reverse":
            if not model.movements:
                continue
            index = op[1] % len(model.movements)
            source, target, amount, reversed_, is_reversal = model.movements[index]
            request = ReverseTransferRequest(idempotency_key=uuid.uuid4().hex, transfer_id=movement_ids[index])
            outcome = await attempt(name, _call(client.reverse), request)
            if is_reversal:
                assert isinstance(outcome, DomainError)
                assert outcome.code == "not_reversible"
                continue
            if reversed_:
                assert isinstance(outcome, DomainError)
                assert outcome.code == "already_reversed"
                continue
            if not model.can_debit(target, amount):
                assert isinstance(outcome, DomainError)
                assert outcome.code == "insufficient_funds"
                continue
            assert not isinstance(outcome, DomainError), (op, outcome)
            model.movements[index][3] = True
            model.posted[target] -= amount
            model.posted[source] += amount
            model.movements.append([target, source, amount, False, True])
            movement_ids.append(outcome.transfers[0].id)
        elif name == "replay":
            if not history:
                continue
            kind, (call, args, request), original = history[op[1] % len(history)]
            assert await call(*args, request) == original, kind

        for index in range(ACCOUNTS):
            balance = await client.get_balance(ids[index])
            assert balance.posted == model.posted[index], (op, index)
            assert balance.pending_debits == model.pending_debits[index], (op, index)
            assert balance.pending_credits == model.pending_credits[index], (op, index)
            if not ALLOW_NEGATIVE[index]:
                assert balance.available >= 0
    assert sum(model.posted) == 0
    assert sum(model.pending_debits) == sum(model.pending_credits)


def _call(method: Any) -> Any:
    async def call(*args: Any) -> Any:
        return await method(*args)

    return call


def test_random_operations_conserve_money_and_match_entries(database_url: str) -> None:
    loop = asyncio.new_event_loop()
    platform = loop.run_until_complete(bootstrap(Settings(), database_url))
    examples: list[int] = []
    try:
        # Derandomized, without the example database: every run (CI's included) checks the same 80 sequences, so
        # the check below on their lengths cannot pass or fail by the luck of one run's draw.
        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            derandomize=True,
            database=None,
        )
        @given(ops=st.lists(operations, min_size=5, max_size=40))
        def check(ops: list[tuple[Any, ...]]) -> None:
            examples.append(len(ops))
            loop.run_until_complete(run_scenario(platform, ops))
            report = loop.run_until_complete(verify_ledger(platform.db))
            assert report.clean, report.discrepancies

        check()
        # The examples really ran, and hypothesis produced long sequences, not only trivial ones.
        assert len(examples) >= 70
        assert sum(1 for length in examples if length >= 10) >= 10
    finally:
        loop.run_until_complete(shutdown(platform))
        loop.close()
