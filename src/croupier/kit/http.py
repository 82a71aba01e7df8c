"""HTTP plumbing shared by every service: problem+json errors, body size limit, JSON-only bodies, trace ids.

Every error leaves as RFC 9457 problem+json with a stable `code`:
  validation_error (422), malformed_json (400), payload_too_large (413), unsupported_media_type (415),
  not_found (404), method_not_allowed (405), service_unavailable (503), internal_error (500),
  plus each service's domain codes.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from croupier.kit.errors import PROBLEM_TYPE_BASE, DomainError
from croupier.kit.serialization import dumps
from croupier.kit.tracing import current_trace_id, new_trace_id, trace_id_from_traceparent

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise with orjson (UUIDs and datetimes natively); used on the hot paths instead of response models."""
    return Response(dumps(content), status_code=status_code, media_type="application/json", headers=headers)


def problem_response(status: int, code: str, title: str, detail: str, **extensions: Any) -> Response:
    body = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    body.update(extensions)
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON)


PROBLEM_SCHEMA: dict[str, Any] = {
    "description": "Problem details (RFC 9457) with a stable `code`",
    "content": {
        PROBLEM_JSON: {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status", "detail", "code"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {"type": "string", "examples": ["insufficient_funds"]},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
                "additionalProperties": True,
            }
        }
    },
}


_TITLES = {
    "malformed_json": "Malformed JSON",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "payload_too_large": "Payload too large",
    "unsupported_media_type": "Unsupported media type",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> Response:
        # An error may carry response headers (e.g. Retry-After on 429) as a `headers` attribute.
        headers: dict[str, str] | None = getattr(error, "headers", None)
        return Response(dumps(error.to_problem()), status_code=error.status, media_type=PROBLEM_JSON, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        problems = list(error.errors())
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return problem_response(400, "malformed_json", "Malformed JSON", "the request body is not valid JSON")
        cleaned = [
            {"loc": list(problem.get("loc", ())), "msg": problem.get("msg", ""), "type": problem.get("type", "")}
            for problem in problems
        ]
        first = cleaned[0] if cleaned else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"][1:]) or "request"
        return problem_response(
            422,
            "validation_error",
            "The request is not valid",
            f"{where}: {first['msg']}",
            errors=cleaned,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        codes = {
            # FastAPI's only 400 is a body it could not parse (e.g. bytes that are not UTF-8).
            400: "malformed_json",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        code = codes.get(error.status_code, "http_error")
        detail = "the request body is not valid JSON" if code == "malformed_json" else str(error.detail)
        response = problem_response(error.status_code, code, _TITLES.get(code, str(error.detail)), detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        if error.status_code == 405:
            # Starlette names only the first route matching the path; one path may be served by several routes.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "Internal error", "an unexpected error occurred")


def _allowed_methods(request: Request) -> list[str]:
    """Methods some route serves on this path, found by asking every route as the router would."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def request_trace_id(headers: dict[bytes, bytes]) -> str:
    """The caller's W3C trace id (traceparent header) or a new one."""
    return trace_id_from_traceparent(headers.get(b"traceparent", b"").decode("latin-1")) or new_trace_id()


def body_refusal(headers: dict[bytes, bytes], max_body_bytes: int) -> Response | None:
    """The answer to a request body refused from its headers alone (declared too large, not JSON), else None."""
    length = headers.get(b"content-length")
    if length is not None:
        try:
            if int(length) > max_body_bytes:
                limit = f"request bodies are limited to {max_body_bytes} bytes"
                return problem_response(413, "payload_too_large", "Payload too large", limit)
        except ValueError:
            return problem_response(400, "malformed_request", "Bad request", "invalid Content-Length")
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != b"application/json" and not content_type.endswith(b"+json"):
        return problem_response(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "request bodies must be JSON (Content-Type: application/json)",
        )
    return None


def size_limited(receive: Receive, max_body_bytes: int) -> Receive:
    """`receive` that refuses a body growing past the limit while it streams in (whatever Content-Length said)."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_body_bytes:
                # FastAPI passes HTTPException through its body parsing; the handler renders payload_too_large.
                raise StarletteHTTPException(413, f"request bodies are limited to {max_body_bytes} bytes")
        return message

    return limited_receive


class GuardMiddleware:
    """Pure ASGI middleware: trace id, JSON-only request bodies, and a hard cap on body size (streamed or not)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        trace_id = request_trace_id(headers)
        token = current_trace_id.set(trace_id)

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-trace-id", trace_id.encode())]
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                refusal = body_refusal(headers, self.max_body_bytes)
                if refusal is not None:
                    await refusal(scope, receive, send_with_trace)
                    return
                await self.app(scope, size_limited(receive, self.max_body_bytes), send_with_trace)
            else:
                await self.app(scope, receive, send_with_trace)
        finally:
            current_trace_id.reset(token)
