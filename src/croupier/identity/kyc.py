"""KYC status rules: unverified -> pending -> verified | rejected, and rejected -> pending on resubmission."""

from croupier.identity.errors import InvalidKycTransition

TRANSITIONS: dict[str, frozenset[str]] = {
    "unverified": frozenset({"pending"}),
    "pending": frozenset({"verified", "rejected"}),
    "rejected": frozenset({"pending"}),
    "verified": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        raise InvalidKycTransition(
            f"KYC status cannot move from {current} to {target}", from_status=current, to_status=target, allowed=allowed
        )
