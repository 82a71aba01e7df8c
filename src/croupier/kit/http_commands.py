"""A lean path for the hot JSON command endpoints (POST only), in front of FastAPI's routing.

Why: FastAPI's per-request machinery (route matching through included routers, dependency solving, body parsing in
Python mode, response handling) costs about 100 µs of CPU per request on the machines we measure, several times what
the wallet's own work costs. For the endpoints that move money, this dispatcher parses the body with pydantic's JSON
parser straight into the endpoint's request model and calls the same handler the FastAPI route calls. FastAPI still
defines those routes, so the OpenAPI document is generated from the same models; every other request goes to
FastAPI unchanged. Errors are the same problem+json documents (validation_error, malformed_json, domain codes).

The lane is served before the app's middleware stack (`CommandLaneApp.__call__`): each layer of that stack costs a
coroutine call and a wrapped `send` per request, together about a fifth of the wallet process's CPU per transfer. So
the lane applies the same checks itself, through the same functions the middlewares use: the trace id, the body size
limit and JSON content type (`croupier.kit.http`), and the authorization of the API it serves (`authorize`, the
`InternalApiGuard` of the wallet). Every other request goes through the full stack.
"""

import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from croupier.kit.errors import DomainError
from croupier.kit.http import PROBLEM_JSON, body_refusal, problem_response, request_trace_id, size_limited
from croupier.kit.serialization import dumps
from croupier.kit.tracing import current_trace_id

logger = logging.getLogger(__name__)

#: handler(app_state, body, path_params) -> response
CommandHandler = Callable[[Any, Any, dict[str, UUID]], Awaitable[Response]]


@dataclass(frozen=True)
class JsonCommand:
    """A POST endpoint served by the lean path: `path` is a template such as "/v1/wallet/holds/{hold_id}/post"."""

    path: str
    model: type[BaseModel]
    handler: CommandHandler

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{([a-z_]+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^{regex}$")


class CommandLane:
    """Serves the registered POST commands: trace id, body checks, authorization, parse, handler, problem+json."""

    def __init__(
        self,
        commands: Sequence[JsonCommand],
        *,
        max_body_bytes: int,
        authorize: Callable[[Scope], Response | None] | None = None,
    ) -> None:
        self._exact = {command.path: command for command in commands if "{" not in command.path}
        self._templated = [(command.pattern(), command) for command in commands if "{" in command.path]
        self._max_body_bytes = max_body_bytes
        self._authorize = authorize

    def match(self, path: str) -> tuple[JsonCommand, dict[str, str]] | None:
        command = self._exact.get(path)
        if command is not None:
            return command, {}
        for pattern, candidate in self._templated:
            found = pattern.match(path)
            if found is not None:
                return candidate, found.groupdict()
        return None

    async def serve(
        self, command: JsonCommand, raw_params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = dict(scope["headers"])
        trace_id = request_trace_id(headers)
        token = current_trace_id.set(trace_id)
        try:
            # The order of the middleware stack: body checks (GuardMiddleware), then authorization (InternalApiGuard).
            response = body_refusal(headers, self._max_body_bytes)
            if response is None and self._authorize is not None:
                response = self._authorize(scope)
            if response is None:
                limited = size_limited(receive, self._max_body_bytes)
                response = await self._handle(command, scope, limited, raw_params)
            response.raw_headers.append((b"x-trace-id", trace_id.encode()))
            await response(scope, receive, send)
        finally:
            current_trace_id.reset(token)

    async def _handle(
        self, command: JsonCommand, scope: Scope, receive: Receive, raw_params: dict[str, str]
    ) -> Response:
        try:
            params = _path_params(raw_params)
            body = await _read_body(receive)
            try:
                request: BaseModel = command.model.model_validate_json(body)
            except ValidationError as error:
                parsed = _parse_like_fastapi(command.model, body, error)
                if isinstance(parsed, Response):
                    return parsed
                request = parsed
            return await command.handler(scope["app"].state, request, params)
        except DomainError as error:
            return Response(dumps(error.to_problem()), status_code=error.status, media_type=PROBLEM_JSON)
        except _BodyProblem as problem:
            return problem.response
        except Exception:
            logger.exception("unhandled error on POST %s", scope["path"])
            return problem_response(500, "internal_error", "Internal error", "an unexpected error occurred")


class CommandLaneApp(FastAPI):
    """A FastAPI app whose `command_lane`, if set, serves its commands before the middleware stack does anything."""

    command_lane: CommandLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.command_lane
        if lane is not None and scope["type"] == "http" and scope["method"] == "POST":
            found = lane.match(scope["path"])
            if found is not None:
                scope["app"] = self  # what Starlette sets; handlers read the platform from app.state
                await lane.serve(found[0], found[1], scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _BodyProblem(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        try:
            message = await receive()
        except Exception as error:  # size_limited refuses a body over the limit while it streams in
            status = getattr(error, "status_code", None)
            if status == 413:
                raise _BodyProblem(
                    problem_response(413, "payload_too_large", "Payload too large", str(getattr(error, "detail", "")))
                ) from error
            raise
        if message["type"] == "http.disconnect":
            raise _BodyProblem(problem_response(400, "malformed_request", "Bad request", "client disconnected"))
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _path_params(raw: dict[str, str]) -> dict[str, UUID]:
    params = {}
    for name, value in raw.items():
        try:
            params[name] = UUID(value)
        except ValueError:
            raise _BodyProblem(
                problem_response(
                    422,
                    "validation_error",
                    "The request is not valid",
                    f"{name}: Input should be a valid UUID",
                    errors=[{"loc": ["path", name], "msg": "Input should be a valid UUID", "type": "uuid_parsing"}],
                )
            ) from None
    return params


def _parse_like_fastapi(model: type[BaseModel], body: bytes, error: ValidationError) -> BaseModel | Response:
    """After pydantic's JSON parser refused a body: the model, or the refusal FastAPI's own routes would give.

    pydantic's JSON parser is stricter than Python's `json` module, which FastAPI uses (an unpaired surrogate escape,
    NaN), so a refused text is parsed as FastAPI would and validated in Python mode. Every endpoint thereby answers
    bad input the same way, whichever path served it.
    """
    if not body:
        return _validation_problem([{"loc": (), "msg": "Field required", "type": "missing"}])
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    if not any(problem["type"] == "json_invalid" for problem in problems):
        return _validation_problem(problems)
    try:
        parsed = json.loads(body)
    except ValueError:  # includes bytes that are not UTF-8
        return problem_response(400, "malformed_json", "Malformed JSON", "the request body is not valid JSON")
    try:
        return model.model_validate(parsed)
    except ValidationError as python_error:
        return _validation_problem(python_error.errors(include_url=False, include_context=False, include_input=False))


def _validation_problem(problems: Sequence[Any]) -> Response:
    cleaned = [
        {"loc": ["body", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]} for problem in problems
    ]
    first = cleaned[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "request"
    return problem_response(
        422, "validation_error", "The request is not valid", f"{where}: {first['msg']}", errors=cleaned
    )
