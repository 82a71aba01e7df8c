"""Turning a service's problem+json answer back into the domain exception it was raised as.

Every service's HTTP client raises the same exception classes as its in-process client; this is the one mapping
they share: a known `code` becomes its class (with the problem's extensions), an unknown or unreadable one becomes
ServiceUnavailable (5xx) or ValidationFailed (4xx), keeping the remote code.
"""

from collections.abc import Iterable

import httpx

from croupier.kit.errors import DomainError, ServiceUnavailable, ValidationFailed

PROBLEM_FIELDS = frozenset({"type", "title", "status", "detail", "code", "instance"})


def errors_by_code(errors: Iterable[type[DomainError]]) -> dict[str, type[DomainError]]:
    return {error.code: error for error in errors}


def error_from_problem(response: httpx.Response, service: str, known: dict[str, type[DomainError]]) -> DomainError:
    try:
        problem = response.json()
        code = problem["code"]
        detail = problem.get("detail", "")
    except (ValueError, KeyError, TypeError):
        if response.status_code >= 500:
            return ServiceUnavailable(f"{service} answered {response.status_code}")
        return ValidationFailed(f"{service} answered {response.status_code}: {response.text[:200]}")
    error_class = known.get(code)
    extensions = {k: v for k, v in problem.items() if k not in PROBLEM_FIELDS}
    if error_class is None:
        error_class = ServiceUnavailable if response.status_code >= 500 else ValidationFailed
        extensions["remote_code"] = code
    return error_class(detail, **extensions)
