"""Domain errors with stable codes, rendered as RFC 9457 problem+json by the HTTP layer.

A code is part of the public API: clients branch on it, so a code is never renamed or reused for another meaning.
"""

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://croupier.dev/problems/"


class DomainError(Exception):
    """Base class: a refused command. Carries a stable `code`, an HTTP status and structured extensions."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request refused"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            problem["instance"] = instance
        # Extensions never replace a standard member: clients read `status` and `code` from every problem.
        problem.update((name, value) for name, value in self.extensions.items() if name not in problem)
        return problem


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422
    title = "The request is not valid"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class UnknownCurrency(DomainError):
    code = "unknown_currency"
    status = 422
    title = "Unknown currency"


class AmountOutOfRange(DomainError):
    code = "amount_out_of_range"
    status = 422
    title = "Amount out of range"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = 503
    title = "Service temporarily unavailable"


class InternalError(DomainError):
    code = "internal_error"
    status = 500
    title = "Internal error"
