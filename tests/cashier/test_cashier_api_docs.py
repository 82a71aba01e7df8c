"""The cashier's part of the OpenAPI document is complete (every operation, its schemas and its problem errors), and
the provider-health endpoint reports what the routing saw."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform
from croupier.kit.config import Settings
from tests.cashier.conftest import CashierPlayer, SimulatorControl
from tests.cashier.test_deposits import deposit
from tests.cashier.test_withdrawals import admin_headers

#: Every cashier operation: (request schema or None, 200 response schema or None for 204/raw answers).
CASHIER_OPERATIONS: dict[tuple[str, str], tuple[str | None, str | None]] = {
    ("get", "/v1/cashier/methods"): (None, "MethodOut[]"),
    ("post", "/v1/cashier/deposits"): ("DepositRequest", "PaymentOut"),
    ("post", "/v1/cashier/withdrawals"): ("WithdrawalRequest", "PaymentOut"),
    ("post", "/v1/cashier/withdrawals/{payment_id}/cancel"): (None, "PaymentOut"),
    ("get", "/v1/cashier/payments/{payment_id}"): (None, "PaymentOut"),
    ("get", "/v1/cashier/payments"): (None, "PaymentPage"),
    ("post", "/v1/cashier/webhooks/{provider}"): (None, None),
    ("get", "/v1/cashier/admin/players/{player_id}/methods"): (None, "MethodOut[]"),
    ("get", "/v1/cashier/admin/players/{player_id}/payments"): (None, "PaymentPage"),
    ("get", "/v1/cashier/admin/payments/{payment_id}"): (None, "AdminPaymentOut"),
    ("get", "/v1/cashier/admin/withdrawals"): (None, "WithdrawalQueueItem[]"),
    ("post", "/v1/cashier/admin/withdrawals/{payment_id}/approve"): (None, "PaymentOut"),
    ("post", "/v1/cashier/admin/withdrawals/{payment_id}/reject"): ("RejectRequest", "PaymentOut"),
    ("get", "/v1/cashier/admin/deposits"): (None, "HeldDepositItem[]"),
    ("post", "/v1/cashier/admin/deposits/{payment_id}/release"): ("DepositDecisionRequest", "PaymentOut"),
    ("post", "/v1/cashier/admin/deposits/{payment_id}/refund"): ("DepositDecisionRequest", "PaymentOut"),
    ("get", "/v1/cashier/admin/webhooks"): (None, "WebhookEventOut[]"),
    ("post", "/v1/cashier/admin/webhooks/{event_id}/replay"): (None, "WebhookEventOut"),
    ("get", "/v1/cashier/admin/providers/health"): (None, "ProviderHealthOut"),
    ("get", "/v1/cashier/admin/reconciliations"): (None, "ReconciliationOut[]"),
    ("get", "/v1/cashier/admin/reconciliations/{reconciliation_id}"): (None, "ReconciliationOut"),
    ("post", "/v1/cashier/admin/reconciliations"): ("ReconcileIn", "ReconciliationOut"),
    ("get", "/v1/cashier/admin/routes"): (None, "RouteOut[]"),
    ("post", "/v1/cashier/admin/routes"): ("RouteIn", "RouteOut"),
    ("delete", "/v1/cashier/admin/routes/{route_id}"): (None, None),
    ("get", "/v1/cashier/admin/fx-rates"): (None, "FxRateOut[]"),
    ("post", "/v1/cashier/admin/fx-rates"): ("FxRateIn", "FxRateOut"),
    ("get", "/v1/cashier/admin/brands/{brand_id}/auto-approval"): (None, "AutoApprovalOut"),
    ("put", "/v1/cashier/admin/brands/{brand_id}/auto-approval"): ("AutoApprovalIn", "AutoApprovalOut"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_app(settings=Settings(), url="postgresql://unused/unused").openapi()


def _schema_name(schema: dict[str, Any]) -> str:
    if "items" in schema:
        return _schema_name(schema["items"]) + "[]"
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def test_openapi_paths_when_built_list_every_cashier_operation(document: dict[str, Any]) -> None:
    found = {
        (method, path) for path, item in document["paths"].items() if path.startswith("/v1/cashier") for method in item
    }
    assert found == set(CASHIER_OPERATIONS)


@pytest.mark.parametrize(("method", "path"), sorted(CASHIER_OPERATIONS))
def test_cashier_operation_when_documented_names_its_schemas_and_problem_errors(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]
    request, response = CASHIER_OPERATIONS[(method, path)]
    assert operation["summary"]
    if request is not None:
        assert _schema_name(operation["requestBody"]["content"]["application/json"]["schema"]) == request
    if response is not None:
        assert _schema_name(operation["responses"]["200"]["content"]["application/json"]["schema"]) == response
    errors = [status for status in operation["responses"] if status.startswith("4")]
    assert errors
    for status in errors:
        assert "application/problem+json" in operation["responses"][status]["content"]


def test_deposit_amount_when_documented_is_an_integer(document: dict[str, Any]) -> None:
    amount = document["components"]["schemas"]["DepositRequest"]["properties"]["amount"]
    assert amount["type"] == "integer"
    assert amount["minimum"] == 0


async def test_provider_health_after_a_failover_shows_the_failing_provider_and_its_metrics(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Callable[..., Awaitable[CashierPlayer]],
    psp: SimulatorControl,
) -> None:
    player = await cashier_player()
    await psp.faults("stripe", error_status=500)
    assert (await deposit(cashier_api, player, "card", 10_00, card_token="pm_card_visa")).status_code == 200
    health = await cashier_api.get("/v1/cashier/admin/providers/health", headers=admin_headers("risk"))
    assert health.status_code == 200, health.text
    body = health.json()
    states = {item["provider"]: item for item in body["providers"]}
    assert states["stripe"]["consecutive_failures"] == 1
    assert states["adyen"]["consecutive_failures"] == 0
    metrics = {(m["provider"], m["method"], m["country"]): m for m in body["metrics"]}
    assert metrics[("stripe", "card", "GB")]["failures"] == 1
    assert metrics[("adyen", "card", "GB")]["success_rate"] == 1.0
    assert metrics[("adyen", "card", "GB")]["latency_p50_ms"] > 0
