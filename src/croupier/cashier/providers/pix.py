"""The Pix adapter: dynamic QR charges (API Pix v2 `cob`), Pix transfers to a key, webhooks, settlement.

Pix names a charge by a `txid` the merchant chooses ([a-zA-Z0-9]{26,35}); our attempt ids ("<payment uuid>-<n>")
are not valid txids, so `txid_for` derives one that `attempt_id_from_txid` turns back into the attempt id (a Pix
webhook carries only the txid). An attempt id of another shape gets a hash-derived txid, and events about it carry
no attempt id (the cashier still has the txid as provider_ref).

Webhook authenticity: real Pix uses mutual TLS between the PSP and the merchant. Our simulator cannot, so it signs
the raw body: `X-Pix-Signature: sha256=<hex HMAC-SHA256(webhook secret, body)>`. Pix webhooks carry no timestamp,
so there is no freshness check; the event id (the payment's endToEndId) makes a replay a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from croupier.cashier.providers.base import (
    AttemptResult,
    NextAction,
    Outcome,
    PaymentKind,
    PaymentOrder,
    ProviderEvent,
    ProviderStatus,
    ProviderUnavailable,
    SettlementLine,
    WebhookAnswer,
    WebhookRejected,
    elapsed_ms,
    from_decimal_string,
    resource_or_none,
    to_decimal_string,
)
from croupier.cashier.providers.config import ProviderConfig

ATTEMPT_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d{1,2})$")
#: Problem types that refuse the payment itself (another PSP would refuse it too): the rest of the 4xx cascade.
HARD_PROBLEMS = {"CobOperacaoInvalida", "PixOperacaoInvalida", "RequisicaoInvalida"}
COB_STATUS: dict[str, ProviderStatus] = {
    "ATIVA": "pending",
    "CONCLUIDA": "succeeded",
    "REMOVIDA_PELO_USUARIO_RECEBEDOR": "canceled",
    "REMOVIDA_PELO_PSP": "failed",
}
ENVIO_STATUS: dict[str, ProviderStatus] = {
    "EM_PROCESSAMENTO": "processing",
    "REALIZADO": "succeeded",
    "NAO_REALIZADO": "failed",
}


def txid_for(attempt_id: str) -> str:
    """The txid (and idEnvio) of an attempt: the payment uuid's hex, "a", the attempt number; else a digest."""
    match = ATTEMPT_ID.match(attempt_id)
    if match:
        return f"{UUID(match[1]).hex}a{match[2]}"
    return "h" + hashlib.sha256(attempt_id.encode()).hexdigest()[:34]


def attempt_id_from_txid(txid: str) -> str | None:
    if len(txid) in (34, 35) and txid[32] == "a" and txid[33:].isdigit():
        try:
            return f"{UUID(hex=txid[:32])}-{txid[33:]}"
        except ValueError:
            return None
    return None


def crc16_ccitt(data: bytes) -> str:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def br_code_is_valid(code: str) -> bool:
    """An EMV BR Code ends with field 63 (length 04): the CRC16 of everything before its four hex digits."""
    return len(code) > 8 and code[-8:-4] == "6304" and crc16_ccitt(code[:-4].encode()) == code[-4:].upper()


def _centavos(value: Any) -> int:
    return from_decimal_string(str(value), 2)


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class Adapter:
    protocol = "pix"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._http = http or httpx.AsyncClient()
        self._owns_http = http is None
        self._base = config.base_url.rstrip("/")
        #: The merchant's own Pix key, where charges are paid to.
        self._merchant_key = str(config.options.get("pix_key", "pix@croupier.example"))

    # -- HTTP --------------------------------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._http.request(
            method,
            self._base + path,
            headers={"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"},
            timeout=self.config.timeout_seconds,
            **kwargs,
        )

    async def _attempt(
        self, method: str, path: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], float] | AttemptResult:
        """The PSP's JSON answer and the call's latency, or the AttemptResult that classifies its failure."""
        started = time.perf_counter()

        def failed(outcome: Outcome, code: str, detail: str) -> AttemptResult:
            return AttemptResult(outcome, error_code=code, detail=detail, latency_ms=elapsed_ms(started))

        try:
            response = await self._send(method, path, json=body)
        except httpx.TimeoutException:
            return failed(Outcome.TIMEOUT, "timeout", "no answer in time")
        except httpx.HTTPError as error:
            return failed(Outcome.PROVIDER_ERROR, "connection", str(error))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500 or not isinstance(answer, dict):
            return failed(Outcome.PROVIDER_ERROR, str(response.status_code), response.text[:200])
        if response.status_code in (401, 403):
            return failed(Outcome.PROVIDER_ERROR, str(response.status_code), "credentials refused")
        if response.status_code >= 400:
            problem = str(answer.get("type", "")).rsplit("/", 1)[-1] or str(response.status_code)
            outcome = Outcome.HARD_DECLINE if problem in HARD_PROBLEMS else Outcome.SOFT_DECLINE
            return failed(outcome, problem, str(answer.get("detail", "")))
        return answer, elapsed_ms(started)

    async def _query(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """A GET whose 404 means "unknown" (None); any other failure raises ProviderUnavailable."""
        try:
            response = await self._send("GET", path, params=params)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.name}: {error!r}") from error
        return resource_or_none(self.name, response)

    # -- payments ----------------------------------------------------------------------------------------------------

    def _valor(self, order: PaymentOrder) -> str | AttemptResult:
        """The order's amount as Pix writes it ("10.00": reais, two decimals), or why it cannot be one."""
        if order.currency != "BRL":
            return AttemptResult(Outcome.HARD_DECLINE, error_code="unsupported_currency", detail=order.currency)
        try:
            centavos = _centavos(to_decimal_string(order.amount, order.exponent))
        except ValueError:
            centavos = 0
        if centavos <= 0:
            detail = f"{order.amount} (exponent {order.exponent}) is not a Pix amount"
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail=detail)
        return to_decimal_string(centavos, 2)

    async def start(self, order: PaymentOrder) -> AttemptResult:
        valor = self._valor(order)
        if isinstance(valor, AttemptResult):
            return valor
        txid = txid_for(order.attempt_id)
        expires_in = int(self.config.options.get("expires_seconds", 3600))
        body = {
            "calendario": {"expiracao": expires_in},
            "valor": {"original": valor},
            "chave": self._merchant_key,
            "solicitacaoPagador": f"Deposit {order.payment_id}",
            "infoAdicionais": [{"nome": "referencia", "valor": order.attempt_id}],
        }
        result = await self._attempt("PUT", f"/v2/cob/{txid}", body)
        if isinstance(result, AttemptResult):
            return result
        answer, latency = result
        code = answer.get("pixCopiaECola")
        if not isinstance(code, str) or not br_code_is_valid(code):
            return AttemptResult(Outcome.PROVIDER_ERROR, txid, error_code="bad_br_code", latency_ms=latency)
        status = COB_STATUS.get(str(answer.get("status")), "pending")
        if status in ("failed", "canceled"):  # the same attempt again, after its charge expired
            return AttemptResult(Outcome.HARD_DECLINE, txid, error_code=str(answer.get("status")), latency_ms=latency)
        created = _when((answer.get("calendario") or {}).get("criacao"))
        action = NextAction(
            "qr",
            qr_data=code,
            copy_paste=code,
            expires_at=created + timedelta(seconds=expires_in) if created else None,
        )
        outcome = Outcome.SUCCEEDED if status == "succeeded" else Outcome.PENDING
        return AttemptResult(outcome, str(answer.get("txid", txid)), action, latency_ms=latency)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        valor = self._valor(order)
        if isinstance(valor, AttemptResult):
            return valor
        key = order.details.get("pix_key")
        if not isinstance(key, str) or not key:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_pix_key", detail="details.pix_key")
        id_envio = txid_for(order.attempt_id)
        body = {
            "valor": valor,
            "pagador": {"chave": self._merchant_key, "infoPagador": f"Withdrawal {order.payment_id}"},
            "favorecido": {"chave": key},
            "infoAdicionais": [{"nome": "referencia", "valor": order.attempt_id}],
        }
        result = await self._attempt("PUT", f"/v2/envios/{id_envio}", body)
        if isinstance(result, AttemptResult):
            return result
        answer, latency = result
        status = ENVIO_STATUS.get(str(answer.get("status")), "processing")
        if status == "failed":
            return AttemptResult(Outcome.HARD_DECLINE, id_envio, error_code="NAO_REALIZADO", latency_ms=latency)
        outcome = Outcome.SUCCEEDED if status == "succeeded" else Outcome.PENDING
        return AttemptResult(outcome, str(answer.get("idEnvio", id_envio)), latency_ms=latency)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        ref = provider_ref or txid_for(attempt_id)
        if kind == "deposit":
            cob = await self._query(f"/v2/cob/{ref}")
            if cob is None:
                return None
            status = COB_STATUS.get(str(cob.get("status")), "pending")
            paid = (cob.get("pix") or [{}])[0]
            amount = _centavos(paid["valor"]) if "valor" in paid else _centavos(cob["valor"]["original"])
            return ProviderEvent(
                event_id=f"{ref}:{status}",
                kind="deposit",
                status=status,
                attempt_id=attempt_id,
                provider_ref=ref,
                amount=amount,
                currency="BRL",
                occurred_at=_when(paid.get("horario")) if paid else None,
                raw_type=f"cob.{cob.get('status')}",
            )
        envio = await self._query(f"/v2/envios/{ref}")
        if envio is None:
            return None
        status = ENVIO_STATUS.get(str(envio.get("status")), "processing")
        return ProviderEvent(
            event_id=f"{ref}:{status}",
            kind="withdrawal",
            status=status,
            attempt_id=attempt_id,
            provider_ref=ref,
            amount=_centavos(envio["valor"]),
            currency="BRL",
            raw_type=f"envio.{envio.get('status')}",
        )

    # -- webhooks ----------------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        presented = headers.get("x-pix-signature")
        if not presented:
            raise WebhookRejected("missing_signature", "no X-Pix-Signature header")
        scheme, _, digest = presented.partition("=")
        if scheme != "sha256" or not digest:
            raise WebhookRejected("bad_signature", "X-Pix-Signature is not sha256=<hex>")
        secret = self.config.webhook_secret.get_secret_value().encode()
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, digest.strip().lower()):
            raise WebhookRejected("bad_signature", "X-Pix-Signature does not match the body")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            items = json.loads(body)["pix"]
            if not isinstance(items, list):
                raise TypeError("pix is not a list")
            return [self._event(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise WebhookRejected("malformed", f"not a Pix webhook: {error}") from error

    def _event(self, item: dict[str, Any]) -> ProviderEvent:
        end_to_end = str(item["endToEndId"])
        if "idEnvio" in item:  # a transfer we sent
            id_envio = str(item["idEnvio"])
            status = ENVIO_STATUS[str(item["status"])]
            return ProviderEvent(
                event_id=f"{end_to_end}:{status}",
                kind="withdrawal",
                status=status,
                attempt_id=attempt_id_from_txid(id_envio),
                provider_ref=id_envio,
                amount=_centavos(item["valor"]),
                currency="BRL",
                occurred_at=_when(item.get("horario")),
                raw_type=f"pix.envio.{item['status']}",
            )
        txid = str(item["txid"])
        return ProviderEvent(  # a Pix received: the endToEndId names the payment, once and for all
            event_id=end_to_end,
            kind="deposit",
            status="succeeded",
            attempt_id=attempt_id_from_txid(txid),
            provider_ref=txid,
            amount=_centavos(item["valor"]),  # what the payer actually sent, which may differ from the charge
            currency="BRL",
            occurred_at=_when(item.get("horario")),
            raw_type="pix.recebido",
        )

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    # -- settlement --------------------------------------------------------------------------------------------------

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        report = await self._query("/v2/reports/settlement", {"date": day.isoformat()})
        if report is None:
            return []
        lines = []
        for item in report.get("itens", []):
            reference = item.get("referencia") or attempt_id_from_txid(str(item["id"]))
            lines.append(
                SettlementLine(
                    provider_ref=str(item["id"]),
                    reference=reference,
                    kind="deposit" if item["tipo"] == "RECEBIMENTO" else "withdrawal",
                    amount=_centavos(item["valor"]),
                    fee=_centavos(item["tarifa"]),
                    currency=str(item.get("moeda", "BRL")),
                    status="succeeded" if item["status"] == "LIQUIDADO" else "refunded",
                    settled_on=date.fromisoformat(str(item.get("dataLiquidacao", day.isoformat()))),
                )
            )
        return lines

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
