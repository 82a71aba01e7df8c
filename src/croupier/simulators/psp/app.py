"""The simulator process: every configured provider under /<name>, and the control API under /_sim.

Control API (no authentication: a simulator only listens where its operator put it):

    POST   /_sim/reset                                  forget every transaction, fault and discrepancy
    GET    /_sim/providers                              the providers, their protocol and webhook target
    PUT    /_sim/webhooks                               {"url": base}: every provider posts to base/<name>
    PUT    /_sim/{name}/faults                          Faults (see core.Faults);  DELETE clears them
    PUT    /_sim/{name}/webhook                         {"url": ..., "secret": ...} where and how webhooks go
    GET    /_sim/{name}/transactions                    every transaction, with its status history
    POST   /_sim/{name}/transactions/{id}/complete      {"status": "succeeded" | "failed", "amount": n?}: the
                                                        customer paid (or gave up) at the bank / QR / phone
    GET    /_sim/{name}/stats                           {"api_calls": n, "charges": {reference: times charged}}
    PUT    /_sim/{name}/discrepancies                   [Discrepancy, ...] applied to settlement reports
    POST   /_sim/drain                                  wait until queued webhooks are delivered
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from croupier.simulators.psp.core import Discrepancy, Faults, ProviderState, WebhookSender

#: protocol -> module implementing its simulated API.
PROTOCOL_MODULES = {
    "stripe": "croupier.simulators.psp.stripe",
    "adyen": "croupier.simulators.psp.adyen",
    "pix": "croupier.simulators.psp.pix",
    "upi": "croupier.simulators.psp.upi",
    "ideal": "croupier.simulators.psp.ideal",
    "ewallet": "croupier.simulators.psp.ewallet",
    "mpesa": "croupier.simulators.psp.mpesa",
    "crypto": "croupier.simulators.psp.crypto",
}


@dataclass(frozen=True)
class SimulatedProvider:
    name: str
    protocol: str
    api_key: str
    webhook_secret: str
    options: dict[str, Any] = field(default_factory=dict)


def default_providers() -> list[SimulatedProvider]:
    """One provider per protocol, named after it, with the credentials `croupier.cashier` assumes by default."""
    return [
        SimulatedProvider(p, p, api_key=api_key_for(p), webhook_secret=webhook_secret_for(p))
        for p, module in PROTOCOL_MODULES.items()
        if importlib.util.find_spec(module) is not None  # a protocol being written is left out, not fatal
    ]


def api_key_for(name: str) -> str:
    return f"sim_{name}_key_0123456789"


def webhook_secret_for(name: str) -> str:
    return f"whsec_sim_{name}_0123456789abcdef"


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    secret: str | None = None


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["succeeded", "failed"] = "succeeded"
    amount: int | None = Field(None, ge=1, description="What the customer actually paid (default: the amount asked).")


def build_simulator_app(
    providers: list[SimulatedProvider] | None = None, *, webhook_base: str | None = None
) -> FastAPI:
    """The simulator. `webhook_base` + "/<name>" is where each provider posts its webhooks (None: nowhere yet)."""
    sender = WebhookSender()
    states: dict[str, ProviderState] = {}
    modules: dict[str, ModuleType] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await sender.close()

    app = FastAPI(title="Croupier payment-provider simulator", lifespan=lifespan)
    for provider in providers or default_providers():
        module = importlib.import_module(PROTOCOL_MODULES[provider.protocol])
        state = ProviderState(
            provider.name,
            provider.protocol,
            webhook_url=f"{webhook_base.rstrip('/')}/{provider.name}" if webhook_base else None,
            webhook_secret=provider.webhook_secret,
            api_key=provider.api_key,
            render_webhook=module.render_webhook,
            sender=sender,
            options=provider.options,
        )
        states[provider.name] = state
        modules[provider.name] = module
        app.include_router(module.build_router(state), prefix=f"/{provider.name}")

    def state_of(name: str) -> ProviderState:
        try:
            return states[name]
        except KeyError:
            raise HTTPException(404, f"no simulated provider {name!r}") from None

    @app.post("/_sim/reset")
    async def reset() -> dict[str, str]:
        await sender.close()
        for name, state in states.items():
            state.reset()
            state.webhook_url = initial_webhooks[name]  # a test's webhook target must not outlive the test
        return {"status": "reset"}

    @app.post("/_sim/drain")
    async def drain() -> dict[str, Any]:
        await sender.drain()
        return {"delivered": len(sender.delivered)}

    @app.get("/_sim/providers")
    async def list_providers() -> list[dict[str, Any]]:
        return [{"name": s.name, "protocol": s.protocol, "webhook_url": s.webhook_url} for s in states.values()]

    @app.put("/_sim/webhooks")
    async def set_webhook_base(target: WebhookTarget) -> list[dict[str, Any]]:
        """Point every provider's webhooks at `url` + "/<name>" (the cashier's webhook endpoints)."""
        for state in states.values():
            state.webhook_url = f"{target.url.rstrip('/')}/{state.name}" if target.url else None
        return await list_providers()

    @app.put("/_sim/{name}/faults")
    async def set_faults(name: str, faults: Faults) -> Faults:
        state_of(name).set_faults(faults)
        return faults

    @app.delete("/_sim/{name}/faults")
    async def clear_faults(name: str) -> Faults:
        state_of(name).set_faults(Faults())
        return Faults()

    @app.put("/_sim/{name}/webhook")
    async def set_webhook(name: str, target: WebhookTarget) -> dict[str, Any]:
        state = state_of(name)
        state.webhook_url = target.url
        if target.secret is not None:
            state.webhook_secret = target.secret
        return {"url": state.webhook_url}

    @app.get("/_sim/{name}/transactions")
    async def transactions(name: str) -> list[dict[str, Any]]:
        return [t.as_dict() for t in state_of(name).transactions.values()]

    @app.post("/_sim/{name}/transactions/{txn_id}/complete")
    async def complete(name: str, txn_id: str, completion: Completion) -> dict[str, Any]:
        state = state_of(name)
        txn = state.transactions.get(txn_id) or state.find(txn_id)
        if txn is None:
            raise HTTPException(404, f"no transaction {txn_id!r}")
        hook = getattr(modules[name], "complete", None)
        if hook is None:
            raise HTTPException(409, f"{state.protocol} transactions complete on their own")
        hook(state, txn, completion.status, completion.amount)
        return txn.as_dict()

    @app.get("/_sim/{name}/stats")
    async def stats(name: str) -> dict[str, Any]:
        state = state_of(name)
        return {"api_calls": state.api_calls, "charges": dict(state.charges)}

    @app.put("/_sim/{name}/discrepancies")
    async def discrepancies(name: str, items: list[Discrepancy]) -> list[Discrepancy]:
        state_of(name).discrepancies = items
        return items

    initial_webhooks = {name: state.webhook_url for name, state in states.items()}
    app.state.providers = states
    return app


def serve(host: str, port: int, webhook_base: str | None) -> None:
    import uvicorn

    uvicorn.run(build_simulator_app(webhook_base=webhook_base), host=host, port=port, log_level="warning")
