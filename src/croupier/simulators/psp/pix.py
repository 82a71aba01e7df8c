"""A simulated Pix PSP, shaped like the Brazilian central bank's Pix API (API Pix v2).

- PUT /v2/cob/{txid}: an immediate charge ("cobrança imediata"): a dynamic QR code (EMV BR Code, "pix copia e
  cola") the payer scans in their bank app. The payer pays outside our API: `complete()` (the control API) is the
  bank app, and the PSP posts {"pix": [...]} to the webhook at once.
- GET /v2/cob/{txid}: the charge and its status (ATIVA, CONCLUIDA, REMOVIDA_PELO_PSP).
- PUT /v2/envios/{idEnvio}: a Pix transfer to a Pix key (outgoing payments are PSP-specific, not in the central
  bank's standard; this is shaped like the common PSP extensions); GET /v2/envios/{idEnvio} its status.
- GET /v2/reports/settlement?date=YYYY-MM-DD: the day's settled receipts and transfers.

Errors are RFC 7807 problems, as the Pix API answers them. Real Pix authenticates the PSP's webhooks with mutual
TLS; a simulator on plain HTTP cannot, so it signs the body instead: `X-Pix-Signature: sha256=<hex HMAC-SHA256 of
the raw body with the webhook secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from croupier.simulators.psp.core import ProviderState, SimTransaction

PROTOCOL = "pix"

PROBLEM_BASE = "https://pix.bcb.gov.br/api/v2/error/"
TXID_PATTERN = re.compile(r"^[a-zA-Z0-9]{26,35}$")
ID_ENVIO_PATTERN = re.compile(r"^[a-zA-Z0-9]{1,35}$")
# A Pix key is an e-mail, a +55 phone number, a CPF (11 digits), a CNPJ (14 digits) or a random key (EVP, a UUID).
PIX_KEY_PATTERN = re.compile(
    r"^([^@\s]+@[^@\s]+\.[^@\s]+|\+55\d{10,11}|\d{11}|\d{14}|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
ISPB = "18236120"  # the simulated PSP's participant code, which starts every endToEndId it issues
COB_STATUS = {"pending": "ATIVA", "succeeded": "CONCLUIDA", "failed": "REMOVIDA_PELO_PSP"}
ENVIO_STATUS = {
    "pending": "EM_PROCESSAMENTO",
    "processing": "EM_PROCESSAMENTO",
    "succeeded": "REALIZADO",
    "failed": "NAO_REALIZADO",
}


def problem(status: int, kind: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": kind, "status": status, "detail": detail}
    if field is not None:
        body["violacoes"] = [{"razao": detail, "propriedade": field}]
    return JSONResponse(body, status, media_type="application/problem+json")


def reais(amount: int) -> str:
    return f"{Decimal(amount).scaleb(-2):.2f}"


def centavos(value: Any) -> int | None:
    """A Pix amount ("10.00": two decimals, positive) as centavos, or None if it is not one."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,10}\.\d{2}", value):
        return None
    try:
        amount = int(Decimal(value).scaleb(2))
    except InvalidOperation:
        return None
    return amount if amount > 0 else None


def end_to_end_id(now: datetime) -> str:
    return f"E{ISPB}{now:%Y%m%d%H%M}{secrets.token_hex(6)[:11]}"


def crc16_ccitt(data: bytes) -> str:
    """CRC16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF), the checksum that ends every BR Code."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def br_code(location: str, amount: int, merchant_name: str, city: str) -> str:
    """The EMV BR Code of a dynamic charge: its payload points at `location`, and field 63 is the CRC."""
    account = _tlv("00", "br.gov.bcb.pix") + _tlv("25", location)
    payload = (
        _tlv("00", "01")
        + _tlv("01", "12")  # 12: a one-time (dynamic) code
        + _tlv("26", account)
        + _tlv("52", "0000")
        + _tlv("53", "986")  # BRL
        + _tlv("54", reais(amount))
        + _tlv("58", "BR")
        + _tlv("59", merchant_name[:25])
        + _tlv("60", city[:15])
        + _tlv("62", _tlv("05", "***"))
        + "6304"
    )
    return payload + crc16_ccitt(payload.encode())


def cob_body(txn: SimTransaction) -> dict[str, Any]:
    data = txn.data
    body: dict[str, Any] = {
        "txid": txn.id,
        "revisao": 0,
        "status": COB_STATUS.get(txn.status, "ATIVA"),
        "calendario": {"criacao": txn.created_at.isoformat(), "expiracao": data["expiracao"]},
        "location": data["location"],
        "pixCopiaECola": data["pix_copia_e_cola"],
        "valor": {"original": reais(data["original"])},
        "chave": data["chave"],
        "solicitacaoPagador": data.get("solicitacao", ""),
        "infoAdicionais": [{"nome": "referencia", "valor": txn.reference}],
    }
    if txn.status == "succeeded":
        body["pix"] = [_received(txn)]
    return body


def envio_body(txn: SimTransaction) -> dict[str, Any]:
    return {
        "idEnvio": txn.id,
        "e2eId": txn.data["end_to_end_id"],
        "valor": reais(txn.amount),
        "horario": {"solicitacao": txn.created_at.isoformat()},
        "status": ENVIO_STATUS.get(txn.status, "EM_PROCESSAMENTO"),
        "favorecido": {"chave": txn.data["chave"]},
    }


def _received(txn: SimTransaction) -> dict[str, Any]:
    return {
        "endToEndId": txn.data["end_to_end_id"],
        "txid": txn.id,
        "valor": reais(txn.amount),
        "chave": txn.data["chave"],
        "horario": txn.data.get("paid_at", txn.updated_at.isoformat()),
        "infoPagador": txn.data.get("solicitacao", ""),
    }


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    if txn.kind == "payment":
        item = _received(txn)
    else:
        item = {
            "endToEndId": txn.data["end_to_end_id"],
            "idEnvio": txn.id,
            "tipo": "SOLICITACAO",
            "status": ENVIO_STATUS.get(status, "EM_PROCESSAMENTO"),
            "valor": reais(txn.amount),
            "chave": txn.data["chave"],
            "horario": txn.updated_at.isoformat(),
        }
    body = json.dumps({"pix": [item]}, separators=(",", ":")).encode()
    digest = hmac.new(state.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-pix-signature": f"sha256={digest}"}, body


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The payer's bank app: pays the QR code (`amount`: what was actually sent), or the charge expires."""
    if txn.kind != "payment" or txn.status != "pending":
        return
    if status == "succeeded":
        now = datetime.now(UTC)
        txn.data.setdefault("end_to_end_id", end_to_end_id(now))
        txn.data["paid_at"] = now.isoformat()
        txn.amount = amount or txn.amount  # an under- or over-payment is what was received
        txn.fee = state.fee_for(txn.amount)
        state.move(txn, "succeeded")
    else:
        # Real Pix sends no webhook when a charge expires or is removed: the merchant learns it by GET /v2/cob.
        txn.status = "failed"
        txn.updated_at = datetime.now(UTC)
        txn.history.append("failed")


def _adopt_id(state: ProviderState, txn: SimTransaction, provider_id: str) -> None:
    """Pix charges and transfers are known by the id the merchant chose (txid, idEnvio), not by one we invent."""
    state.transactions.pop(txn.id, None)
    txn.id = provider_id
    state.transactions[provider_id] = txn
    state.by_reference[txn.reference] = provider_id


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _reference(body: dict[str, Any], fallback: str) -> str:
    for info in body.get("infoAdicionais") or []:
        if isinstance(info, dict) and info.get("nome") == "referencia" and isinstance(info.get("valor"), str):
            return str(info["valor"])
    return fallback


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    def unauthorised() -> JSONResponse:
        return problem(401, "AcessoNegado", "token de acesso ausente ou inválido")

    @router.put("/v2/cob/{txid}")
    async def create_cob(txid: str, request: Request) -> Response:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return unauthorised()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        body = await _json(request)
        if body is None:
            return problem(400, "RequisicaoInvalida", "corpo JSON inválido")
        if not TXID_PATTERN.match(txid):
            return problem(400, "CobOperacaoInvalida", "txid deve ter de 26 a 35 caracteres [a-zA-Z0-9]", "txid")
        amount = centavos((body.get("valor") or {}).get("original"))
        if amount is None:
            return problem(400, "CobOperacaoInvalida", "valor.original inválido", "valor.original")
        chave = body.get("chave")
        if not isinstance(chave, str) or not PIX_KEY_PATTERN.match(chave):
            return problem(400, "CobOperacaoInvalida", "chave Pix inválida", "chave")
        existing = state.transactions.get(txid)
        if existing is not None:  # the same txid again: the charge already made, never a second one
            return JSONResponse(cob_body(existing), 200)
        if fault is not None and fault.kind == "hard_decline":
            return problem(400, "CobOperacaoInvalida", "recebedor não autorizado a cobrar", "chave")
        if fault is not None and fault.kind == "soft_decline":
            return problem(422, "LimiteExcedido", "limite de recebimentos do PSP excedido")
        expiracao = int((body.get("calendario") or {}).get("expiracao") or 3600)
        txn, _ = state.create(
            _reference(body, txid), kind="payment", method="pix", amount=amount, currency="BRL", prefix="cob_"
        )
        _adopt_id(state, txn, txid)
        location = f"{request.url.netloc}/{state.name}/qr/v2/{secrets.token_hex(16)}"
        txn.data.update(
            original=amount,
            expiracao=expiracao,
            chave=chave,
            solicitacao=str(body.get("solicitacaoPagador") or ""),
            location=location,
            pix_copia_e_cola=br_code(
                location, amount, str(state.options.get("merchant_name", "CROUPIER")), "SAO PAULO"
            ),
        )
        state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        if fault is not None and fault.kind == "error_after_charge":
            return JSONResponse({"type": PROBLEM_BASE + "ErroInternoDoServidor", "status": 500}, 500)
        return JSONResponse(cob_body(txn), 201)

    @router.get("/v2/cob/{txid}")
    async def get_cob(txid: str, request: Request) -> Response:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return unauthorised()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        txn = state.transactions.get(txid)
        if txn is None or txn.kind != "payment":
            return problem(404, "CobNaoEncontrado", f"cobrança {txid} não encontrada")
        return JSONResponse(cob_body(txn))

    @router.put("/v2/envios/{id_envio}")
    async def send_pix(id_envio: str, request: Request) -> Response:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return unauthorised()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        body = await _json(request)
        if body is None:
            return problem(400, "RequisicaoInvalida", "corpo JSON inválido")
        if not ID_ENVIO_PATTERN.match(id_envio):
            return problem(400, "PixOperacaoInvalida", "idEnvio inválido", "idEnvio")
        amount = centavos(body.get("valor"))
        if amount is None:
            return problem(400, "PixOperacaoInvalida", "valor inválido", "valor")
        existing = state.transactions.get(id_envio)
        if existing is not None:
            return JSONResponse(envio_body(existing), 200)
        chave = (body.get("favorecido") or {}).get("chave")
        if not isinstance(chave, str) or not PIX_KEY_PATTERN.match(chave):
            return problem(400, "PixOperacaoInvalida", "chave Pix do favorecido inválida", "favorecido.chave")
        if fault is not None and fault.kind == "hard_decline":
            return problem(400, "PixOperacaoInvalida", "favorecido recusou o recebimento", "favorecido.chave")
        if fault is not None and fault.kind == "soft_decline":
            return problem(422, "LimiteExcedido", "limite de envios do PSP excedido")
        txn, _ = state.create(
            _reference(body, id_envio), kind="payout", method="pix", amount=amount, currency="BRL", prefix="env_"
        )
        _adopt_id(state, txn, id_envio)
        txn.data.update(chave=chave, end_to_end_id=end_to_end_id(datetime.now(UTC)))
        answer = envio_body(txn)  # accepted: the result follows by webhook
        state.move(txn, "processing", "succeeded")  # a Pix transfer settles within seconds
        if fault is not None and fault.kind == "error_after_charge":
            return JSONResponse({"type": PROBLEM_BASE + "ErroInternoDoServidor", "status": 500}, 500)
        return JSONResponse(answer, 201)

    @router.get("/v2/envios/{id_envio}")
    async def get_envio(id_envio: str, request: Request) -> Response:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return unauthorised()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        txn = state.transactions.get(id_envio)
        if txn is None or txn.kind != "payout":
            return problem(404, "PixNaoEncontrado", f"envio {id_envio} não encontrado")
        return JSONResponse(envio_body(txn))

    @router.get("/v2/reports/settlement")
    async def settlement(request: Request) -> Response:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return unauthorised()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        try:
            day = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return problem(400, "RequisicaoInvalida", "date deve ser AAAA-MM-DD", "date")
        items = [
            {
                "tipo": "RECEBIMENTO" if line.kind == "payment" else "ENVIO",
                "id": line.provider_ref,
                "referencia": line.reference,
                "valor": reais(line.amount),
                "tarifa": reais(line.fee),
                "moeda": line.currency,
                "status": "LIQUIDADO" if line.status == "succeeded" else "DEVOLVIDO",
                "dataLiquidacao": line.settled_on.isoformat(),
            }
            for line in state.settlement(day)
        ]
        return JSONResponse({"data": day.isoformat(), "itens": items})

    return router
