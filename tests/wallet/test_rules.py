"""The ledger rules in memory, for cases the request schemas already refuse (defence in depth)."""

from datetime import UTC, datetime

from croupier.wallet.commands import Command
from croupier.wallet.rules import BatchApplier


def test_reversal_naming_its_own_key_is_refused_and_records_nothing() -> None:
    applier = BatchApplier(datetime.now(UTC), accounts={}, requests={}, transfers={}, transfers_by_key={})
    outcome = applier.apply(Command("reversal", "same-key", target_key="same-key"))
    assert outcome.error is not None
    assert outcome.error.code == "not_reversible"
    assert applier.new_requests == []
    assert applier.events == []
