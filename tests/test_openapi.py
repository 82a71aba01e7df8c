"""The OpenAPI document: valid OpenAPI 3.1, complete for the wallet and identity, accurate about commands and errors.

The document is built without a database (`app.openapi()` needs no lifespan); the last tests fetch it, and the docs
page, from a real server.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from croupier.app import build_app
from croupier.identity import api as identity_api
from croupier.identity.schemas import BRAND_ID_PATTERN
from croupier.kit.config import Settings
from croupier.wallet import api as wallet_api

MAX_MINOR_UNITS = 9223372036854775807  # 2**63 - 1, PostgreSQL bigint
PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
ERROR_STATUSES = ("400", "404", "409", "413", "415", "422", "503")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

#: Every wallet route of croupier/wallet/api.py, with its methods.
WALLET_PATHS: dict[str, set[str]] = {
    "/v1/wallet/accounts": {"get", "post"},
    "/v1/wallet/accounts/{account_id}": {"get"},
    "/v1/wallet/accounts/{account_id}/balance": {"get"},
    "/v1/wallet/accounts/{account_id}/transfers": {"get"},
    "/v1/wallet/transfers": {"get", "post"},
    "/v1/wallet/transfers/batch": {"post"},
    "/v1/wallet/transfers/{transfer_id}": {"get"},
    "/v1/wallet/reversals": {"post"},
    "/v1/wallet/holds": {"post"},
    "/v1/wallet/holds/{hold_id}": {"get"},
    "/v1/wallet/holds/{hold_id}/post": {"post"},
    "/v1/wallet/holds/{hold_id}/void": {"post"},
    "/v1/wallet/currencies": {"get"},
    "/v1/wallet/events": {"get"},
}

#: Every identity route of croupier/identity/api.py, with its methods.
IDENTITY_PATHS: dict[str, set[str]] = {
    "/v1/identity/brands/{brand_id}/players": {"post"},
    "/v1/identity/login": {"post"},
    "/v1/identity/token/refresh": {"post"},
    "/v1/identity/logout": {"post"},
    "/v1/identity/me": {"get", "patch"},
    "/v1/identity/me/sessions": {"get", "delete"},
    "/v1/identity/me/sessions/{session_id}": {"delete"},
    "/v1/identity/me/kyc": {"get"},
    "/v1/identity/me/kyc/documents": {"post"},
    "/v1/identity/admin/login": {"post"},
    "/v1/identity/admin/brands": {"get", "post"},
    "/v1/identity/admin/brands/{brand_id}": {"get", "patch"},
    "/v1/identity/admin/players": {"get"},
    "/v1/identity/admin/players/{player_id}": {"get"},
    "/v1/identity/admin/players/{player_id}/kyc": {"get", "post"},
    "/v1/identity/admin/sessions/{session_id}": {"get"},
    "/v1/identity/admin/admins": {"get", "post"},
    "/v1/identity/admin/admins/{admin_id}": {"patch"},
}

#: The money-moving commands (201 applied now, 200 idempotent replay) and the schemas of their bodies and results.
COMMANDS: dict[str, tuple[str, str]] = {
    "/v1/wallet/transfers": ("CreateTransferRequest", "TransferResultOut"),
    "/v1/wallet/transfers/batch": ("CreateBatchRequest", "BatchResultOut"),
    "/v1/wallet/reversals": ("ReverseTransferRequest", "ReversalOut"),
    "/v1/wallet/holds": ("CreateHoldRequest", "TransferResultOut"),
    "/v1/wallet/holds/{hold_id}/post": ("PostHoldRequest", "TransferResultOut"),
    "/v1/wallet/holds/{hold_id}/void": ("VoidHoldRequest", "TransferResultOut"),
    "/v1/wallet/accounts": ("OpenAccountRequest", "AccountOut"),  # 200: the identical account already existed
}

#: Request schemas with an amount, and whether the amount may be left out (null: post the whole hold).
AMOUNT_SCHEMAS: dict[str, bool] = {
    "CreateTransferRequest": False,
    "TransferLegIn": False,
    "CreateHoldRequest": False,
    "PostHoldRequest": True,
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = build_app(settings=Settings(), url="postgresql://unused")
    return app.openapi()


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (and a chain of them) to the object it names."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"non-local $ref {ref}"
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every (JSON pointer, value) of a JSON document, depth first."""
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


# -- OpenAPI 3.1 validity -----------------------------------------------------------------------------------------


def test_openapi_document_when_spec_validator_installed_validates_as_3_1(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    validator.validate(document)  # raises on the first violation of the OpenAPI 3.1 schema


def test_openapi_document_when_built_is_structurally_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # The rules of the OpenAPI 3.1 specification that a generated document can break, checked without a validator.
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    for field in ("title", "version"):
        assert isinstance(document["info"][field], str), field
        assert document["info"][field], field
    json.dumps(document, allow_nan=False)  # plain JSON: no NaN or infinity
    operation_ids: list[str] = []
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        assert set(item) <= HTTP_METHODS | {"summary", "description", "servers", "parameters", "$ref"}, path
        templated = set(re.findall(r"{([^}]+)}", path))
        for _, method, operation in operations({"paths": {path: item}}):
            where = f"{method.upper()} {path}"
            assert operation["responses"], where
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", status), f"{where}: response key {status}"
                assert isinstance(resolve(document, response).get("description"), str), f"{where} {status}"
                for media_type in resolve(document, response).get("content", {}):
                    assert re.fullmatch(r"[\w.+-]+/[\w.+-]+", media_type), f"{where} {status}: {media_type}"
            parameters = [resolve(document, p) for p in operation.get("parameters", [])]
            for parameter in parameters:
                assert parameter["in"] in {"query", "header", "path", "cookie"}, where
                assert ("schema" in parameter) != ("content" in parameter), f"{where}: {parameter['name']}"
                if parameter["in"] == "path":
                    assert parameter["required"] is True, f"{where}: path parameter {parameter['name']}"
            declared = {parameter["name"] for parameter in parameters if parameter["in"] == "path"}
            assert declared == templated, f"{where}: path parameters {declared} vs template {templated}"
            if "requestBody" in operation:
                assert resolve(document, operation["requestBody"])["content"], where
            if "operationId" in operation:
                operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids)), "operationId values must be unique"
    for where, node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            resolve(document, node)  # raises KeyError when the target is missing
            assert node["$ref"], where


# -- completeness -------------------------------------------------------------------------------------------------


def test_openapi_paths_when_built_list_every_wallet_route_with_its_methods(document: dict[str, Any]) -> None:
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
        if path.startswith("/v1/wallet")
    }
    assert documented == WALLET_PATHS
    # and the table above is the router's own list, so a new route cannot go undocumented here either
    routed: dict[str, set[str]] = {}
    for route in wallet_api.router.routes:
        if isinstance(route, APIRoute):
            routed.setdefault(route.path, set()).update(method.lower() for method in route.methods)
    assert routed == WALLET_PATHS


def test_openapi_paths_when_built_list_every_identity_route_with_its_methods(document: dict[str, Any]) -> None:
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
        if path.startswith("/v1/identity")
    }
    assert documented == IDENTITY_PATHS
    routed: dict[str, set[str]] = {}
    for route in identity_api.router.routes:
        if isinstance(route, APIRoute):
            routed.setdefault(route.path, set()).update(method.lower() for method in route.methods)
    assert routed == IDENTITY_PATHS


def test_identity_operations_when_documented_have_summaries_and_problem_errors(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if not path.startswith("/v1/identity"):
            continue
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert success, where
        for status in ("422", "503"):
            assert set(operation["responses"][status]["content"]) == {PROBLEM_JSON}, f"{where} {status}"
        if "/me" in path or ("/admin/" in path and not path.endswith("/admin/login")):
            assert set(operation["responses"]["401"]["content"]) == {PROBLEM_JSON}, f"{where} 401"
            assert set(operation["responses"]["403"]["content"]) == {PROBLEM_JSON}, f"{where} 403"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_when_documented_lists_201_replay_200_and_problem_errors(document: dict[str, Any], path: str) -> None:
    operation = document["paths"][path]["post"]
    request_schema, result_schema = COMMANDS[path]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{request_schema}"}
    responses = operation["responses"]
    for status in ("201", "200"):
        assert responses[status]["description"], status
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{result_schema}"
        }, status
    for status in ERROR_STATUSES:
        content = responses[status]["content"]
        assert set(content) == {PROBLEM_JSON}, f"{status}: {sorted(content)}"
        schema = resolve(document, content[PROBLEM_JSON]["schema"])
        assert set(schema["required"]) >= PROBLEM_FIELDS, status
        assert schema["properties"]["status"]["type"] == "integer", status
        assert schema["properties"]["code"]["type"] == "string", status


def test_reads_when_documented_list_problem_errors(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if method != "get" or not path.startswith("/v1/wallet") or path == "/v1/wallet/currencies":
            continue
        for status in ("404", "422"):
            assert set(operation["responses"][status]["content"]) == {PROBLEM_JSON}, f"GET {path} {status}"


@pytest.mark.parametrize("name", sorted(AMOUNT_SCHEMAS))
def test_request_schema_when_documented_marks_amount_integer_from_1_to_max_bigint(
    document: dict[str, Any], name: str
) -> None:
    amount = document["components"]["schemas"][name]["properties"]["amount"]
    if AMOUNT_SCHEMAS[name]:
        variants = amount["anyOf"]
        assert {"type": "null"} in variants
        (amount,) = [variant for variant in variants if variant != {"type": "null"}]
    assert amount["type"] == "integer"
    assert amount["minimum"] == 1, repr(amount["minimum"])
    # Exactly 2**63 - 1. A float cannot hold it: 9.223372036854776e+18 reads as 9223372036854776000 (> 2**63 - 1),
    # which tells clients (and generated validators) that amounts the server refuses are valid.
    assert amount["maximum"] == MAX_MINOR_UNITS, repr(amount["maximum"])
    assert isinstance(amount["maximum"], int), repr(amount["maximum"])


def test_batch_schema_when_documented_uses_transfer_legs_with_amounts(document: dict[str, Any]) -> None:
    transfers = document["components"]["schemas"]["CreateBatchRequest"]["properties"]["transfers"]
    assert transfers["type"] == "array"
    assert transfers["items"] == {"$ref": "#/components/schemas/TransferLegIn"}
    assert transfers["minItems"] == 1
    assert transfers["maxItems"] == 100


def test_request_schemas_when_documented_forbid_unknown_fields(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if "requestBody" not in operation:
            continue
        schema = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
        assert schema.get("additionalProperties") is False, f"{method.upper()} {path}: {schema.get('title')}"


NAMED_PATH_PARAMETERS = {
    "game": r"^[a-z][a-z0-9_]{0,31}$",
    "currency": r"^[A-Z][A-Z0-9]{2,9}$",
    "provider": r"^[a-z][a-z0-9-]{0,31}$",  # a payment provider's configured name
}


def test_path_ids_when_documented_are_uuids(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "brand_id":
                # Brands are named by a slug, not a UUID.
                assert parameter["schema"]["pattern"] == BRAND_ID_PATTERN, f"{method.upper()} {path}"
            elif parameter["in"] == "path" and parameter["name"] in ("kind", "period"):
                # Limit kinds and periods: a closed list of names.
                assert parameter["schema"]["enum"], f"{method.upper()} {path}"
            elif parameter["in"] == "path" and parameter["name"] == "event_id":
                # Queued webhook events are numbered in arrival order.
                assert parameter["schema"]["type"] == "integer", f"{method.upper()} {path}"
                assert parameter["schema"]["minimum"] == 1, f"{method.upper()} {path}"
            elif parameter["in"] == "path" and parameter["name"] in NAMED_PATH_PARAMETERS:
                # Games and currencies are named by codes, constrained like their request fields.
                expected = NAMED_PATH_PARAMETERS[parameter["name"]]
                assert parameter["schema"]["pattern"] == expected, f"{method.upper()} {path}"
            elif parameter["in"] == "path":
                assert parameter["schema"] == {
                    "type": "string",
                    "format": "uuid",
                    "title": parameter["schema"]["title"],
                }, f"{method.upper()} {path}: {parameter}"


def test_page_limit_when_documented_is_bounded_1_to_500(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "limit":
                schema = parameter["schema"]
                assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, 500), (
                    f"{method.upper()} {path}: {schema}"
                )


# -- served by a real server --------------------------------------------------------------------------------------


async def test_openapi_json_when_served_answers_200_with_the_built_document(
    http_base_url: str, document: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=http_base_url, timeout=30.0) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    assert served["openapi"].startswith("3.1.")
    assert set(WALLET_PATHS) <= set(served["paths"])
    assert served == json.loads(json.dumps(document))


async def test_docs_when_served_answer_200_with_html(http_base_url: str) -> None:
    async with httpx.AsyncClient(base_url=http_base_url, timeout=30.0) as client:
        docs = await client.get("/docs")
        redoc = await client.get("/redoc")
    for response in (docs, redoc):
        assert response.status_code == 200, response.request.url
        assert response.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in response.text


def test_operations_when_documented_declare_whether_they_need_a_bearer_token(document: dict[str, Any]) -> None:
    from croupier.app import PUBLIC_OPERATIONS

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method, operation in operations(document):
        if (method, path) in PUBLIC_OPERATIONS:
            assert operation["security"] == [], f"{method.upper()} {path}"
        else:
            assert operation["security"] == [{"bearerAuth": []}], f"{method.upper()} {path}"
            assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"


# -- games --------------------------------------------------------------------------------------------------------

#: Every games operation of croupier/games/api.py: its request body schema (None: no body) and its 200 response
#: schema ("X[]": an array of X).
GAMES_OPERATIONS: dict[tuple[str, str], tuple[str | None, str]] = {
    ("get", "/v1/games"): (None, "GameOut[]"),
    ("post", "/v1/games/rounds"): ("PlayRoundRequest", "RoundOut"),
    ("get", "/v1/games/rounds"): (None, "RoundPage"),
    ("post", "/v1/games/rounds/{round_id}/steps"): ("StepRequest", "RoundOut"),
    ("get", "/v1/games/rounds/{round_id}"): (None, "RoundOut"),
    ("get", "/v1/games/rounds/{round_id}/verify"): (None, "RoundVerificationOut"),
    ("get", "/v1/games/fairness"): (None, "SeedPairOut"),
    ("post", "/v1/games/fairness/rotate"): ("RotateSeedsRequest", "RotationOut"),
    ("get", "/v1/games/fairness/history"): (None, "RevealedSeedPairOut[]"),
    ("get", "/v1/games/admin/brands/{brand_id}"): (None, "BrandGamesOut"),
    ("put", "/v1/games/admin/brands/{brand_id}"): ("BrandGamesSettingsRequest", "BrandGamesOut"),
    ("put", "/v1/games/admin/brands/{brand_id}/games/{game}"): ("GameSettingsRequest", "BrandGamesOut"),
    ("put", "/v1/games/admin/brands/{brand_id}/limits/{game}/{currency}"): ("BetLimitsRequest", "BrandGamesOut"),
    ("get", "/v1/games/admin/rounds/{round_id}"): (None, "AdminRoundOut"),
    ("get", "/v1/games/admin/audit"): (None, "AuditReportOut"),
}
#: What every games operation can answer: no or a revoked token, the wrong principal or role, an unknown game or
#: round, a conflict (step, idempotency, round state, no cash account), refused input, a dependency down.
GAMES_ERRORS = ("401", "403", "404", "409", "422", "503")
#: What the HTTP layer answers for a request body before the operation runs (kit/http.py).
BODY_ERRORS = ("400", "413", "415")


def schema_ref(name: str) -> dict[str, Any]:
    if name.endswith("[]"):
        return {"type": "array", "items": {"$ref": f"#/components/schemas/{name[:-2]}"}}
    return {"$ref": f"#/components/schemas/{name}"}


def assert_problem(document: dict[str, Any], response: dict[str, Any], where: str) -> None:
    content = response["content"]
    assert set(content) == {PROBLEM_JSON}, f"{where}: {sorted(content)}"
    schema = resolve(document, content[PROBLEM_JSON]["schema"])
    assert set(schema["required"]) >= PROBLEM_FIELDS, where
    assert schema["properties"]["status"]["type"] == "integer", where
    assert schema["properties"]["code"]["type"] == "string", where


def test_openapi_paths_when_built_list_every_games_route_with_its_methods(document: dict[str, Any]) -> None:
    from croupier.games import api as games_api

    expected: dict[str, set[str]] = {}
    for method, path in GAMES_OPERATIONS:
        expected.setdefault(path, set()).add(method)
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
        if path.startswith("/v1/games")
    }
    assert documented == expected
    routed: dict[str, set[str]] = {}
    for route in games_api.router.routes:
        if isinstance(route, APIRoute):
            routed.setdefault(route.path, set()).update(method.lower() for method in route.methods)
    assert routed == expected


@pytest.mark.parametrize(
    ("method", "path"), sorted(GAMES_OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(GAMES_OPERATIONS)]
)
def test_games_operation_when_documented_names_its_request_and_response_schemas(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]
    request_schema, response_schema = GAMES_OPERATIONS[(method, path)]
    assert operation.get("summary"), f"{method.upper()} {path}"
    if request_schema is None:
        assert "requestBody" not in operation
    else:
        body = operation["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == schema_ref(request_schema)
    success = operation["responses"]["200"]
    assert success["description"]
    schema = dict(success["content"]["application/json"]["schema"])
    schema.pop("title", None)
    assert schema == schema_ref(response_schema)
    assert [status for status in operation["responses"] if status.startswith("2")] == ["200"]


@pytest.mark.parametrize(
    ("method", "path"), sorted(GAMES_OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(GAMES_OPERATIONS)]
)
def test_games_operation_when_documented_lists_its_errors_as_problems(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    for status in GAMES_ERRORS:
        assert status in responses, f"{method.upper()} {path} does not document {status}"
        assert_problem(document, responses[status], f"{method.upper()} {path} {status}")


def test_games_operations_with_a_body_when_documented_list_the_body_errors_as_problems(
    document: dict[str, Any],
) -> None:
    for (method, path), (request_schema, _) in GAMES_OPERATIONS.items():
        if request_schema is None:
            continue
        responses = document["paths"][path][method]["responses"]
        for status in BODY_ERRORS:
            assert status in responses, f"{method.upper()} {path} does not document {status}"
            assert_problem(document, responses[status], f"{method.upper()} {path} {status}")


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("PlayRoundRequest", "stake"),
        ("BetLimitsRequest", "min_stake"),
        ("BetLimitsRequest", "max_stake"),
        ("BetLimitsRequest", "max_win"),
    ],
)
def test_games_money_field_when_documented_is_an_integer_from_1_to_max_bigint(
    document: dict[str, Any], schema: str, field: str
) -> None:
    documented = document["components"]["schemas"][schema]
    assert field in documented["required"]
    amount = documented["properties"][field]
    assert amount["type"] == "integer"
    assert amount["minimum"] == 1, repr(amount["minimum"])
    assert amount["maximum"] == MAX_MINOR_UNITS, repr(amount["maximum"])
    assert isinstance(amount["maximum"], int), repr(amount["maximum"])


def test_step_request_when_documented_bounds_the_step_number_and_requires_an_action(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["StepRequest"]
    assert set(schema["required"]) == {"step", "action"}
    step = schema["properties"]["step"]
    assert (step["type"], step["minimum"], step["maximum"]) == ("integer", 0, 10_000)
    assert schema["properties"]["action"]["type"] == "object"


def test_round_out_when_documented_lists_every_round_status(document: dict[str, Any]) -> None:
    status = document["components"]["schemas"]["RoundOut"]["properties"]["status"]
    assert set(status["enum"]) == {
        "open",
        "active",
        "settling",
        "closed",
        "voiding",
        "cancelled",
        "refunded",
        "rejected",
    }
    assert status["description"]
