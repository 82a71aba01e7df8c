"""The bench's traffic: what each scenario sends, with keys that never repeat."""

from uuid import uuid4

from croupier.bench.scenarios import CURRENCY, MAX_AMOUNT, PLAYERS, BenchAccounts, TransferTraffic
from croupier.wallet.client import CreateTransferRequest

ACCOUNTS = BenchAccounts("bench", uuid4(), uuid4(), tuple(uuid4() for _ in range(PLAYERS)))


def test_uniform_traffic_moves_money_between_two_distinct_random_players() -> None:
    traffic = TransferTraffic(ACCOUNTS, "uniform", "bench-x-uniform-", seed=3)
    payloads = [traffic.next_payload() for _ in range(5000)]
    players = set(ACCOUNTS.players)
    for payload in payloads:
        CreateTransferRequest.model_validate(payload)  # a valid request body
        assert payload["debit_account_id"] in players
        assert payload["credit_account_id"] in players
        assert payload["debit_account_id"] != payload["credit_account_id"]
        assert 1 <= payload["amount"] <= MAX_AMOUNT
        assert payload["currency"] == CURRENCY
        assert payload["type"] == "transfer"
    assert [payload["idempotency_key"] for payload in payloads[:3]] == [f"bench-x-uniform-{n}" for n in range(3)]
    assert len({payload["idempotency_key"] for payload in payloads}) == len(payloads)
    # Spread over the ledger: most players are touched, on both sides.
    assert len({payload["debit_account_id"] for payload in payloads}) > 0.9 * PLAYERS
    assert len({payload["credit_account_id"] for payload in payloads}) > 0.9 * PLAYERS
    # The same seed gives the same traffic.
    again = TransferTraffic(ACCOUNTS, "uniform", "bench-x-uniform-", seed=3)
    assert [again.next_payload() for _ in range(100)] == payloads[:100]


def test_hot_traffic_alternates_bets_and_wins_on_the_bankroll() -> None:
    traffic = TransferTraffic(ACCOUNTS, "hot", "bench-x-hot-", seed=4)
    payloads = [traffic.next_payload() for _ in range(1000)]
    for number, payload in enumerate(payloads):
        CreateTransferRequest.model_validate(payload)
        if number % 2 == 0:
            assert payload["type"] == "bet"
            assert payload["credit_account_id"] == ACCOUNTS.bankroll
            assert payload["debit_account_id"] in ACCOUNTS.players
        else:
            assert payload["type"] == "win"
            assert payload["debit_account_id"] == ACCOUNTS.bankroll
            assert payload["credit_account_id"] in ACCOUNTS.players
    assert len({payload["idempotency_key"] for payload in payloads}) == len(payloads)
