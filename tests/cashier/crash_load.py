"""The traffic of the cashier's crash test: players depositing and withdrawing over HTTP, a Pix "customer" paying QR
codes at the simulator, and a back-office user working the approval queue; and what each of them was told."""

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from croupier.kit.auth import Principal
from tests.cashier.conftest import SimulatorControl
from tests.cashier.test_withdrawals import admin_headers
from tests.conftest import service_headers, token_signer_for_tests

BRAND = "cashier-crash"
PASSWORD = "a long enough password"
#: (country, wallet currency, deposit method, deposit range, withdrawal range, withdrawal details)
PROFILES = {
    "card": ("GB", "EUR", "card", (10_00, 60_00), (5_00, 45_00), {}),
    "pix": ("BR", "BRL", "pix", (50_00, 300_00), (20_00, 200_00), {"pix_key": "jogador@example.com"}),
}
#: Withdrawals up to this are paid at once (when no AML rule flags them); larger ones wait for an admin.
AUTO_APPROVAL = {"EUR": 30_00, "BRL": 120_00}
WAGERED = 10_000_000  # turnover played through the wallet at setup, so the AML turnover rule passes


@dataclass
class CrashPlayer:
    player_id: str
    token: str
    account_id: str
    profile: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@dataclass
class Told:
    """What the players and the back office learnt from the platform's answers."""

    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # payment id -> the last answer about it
    owners: dict[str, str] = field(default_factory=dict)  # payment id -> player id
    unknown: list[tuple[CrashPlayer, str, dict[str, Any]]] = field(default_factory=list)  # (player, path, body)
    unexpected: list[str] = field(default_factory=list)
    approvals: int = 0
    pix_paid: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for payment in self.payments.values() if payment["kind"] == kind)

    def expected_balance(self, player: CrashPlayer) -> int:
        """What the player thinks they have: deposits under way or done, less withdrawals not refused."""
        mine = [p for payment_id, p in self.payments.items() if self.owners.get(payment_id) == player.player_id]
        deposited = sum(p["amount"] for p in mine if p["kind"] == "deposit" and p["status"] in ("pending", "succeeded"))
        withdrawn = sum(p["amount"] for p in mine if p["kind"] == "withdrawal" and p["status"] not in ("canceled",))
        return deposited - withdrawn


async def setup_brand_and_players(http: httpx.AsyncClient, per_profile: int) -> list[CrashPlayer]:
    admin, _ = token_signer_for_tests().issue(Principal("admin", "tests", roles=frozenset({"admin"})))
    brand = await http.post(
        "/v1/identity/admin/brands",
        json={
            "id": BRAND,
            "name": "Cashier crash",
            "allowed_countries": ["GB", "BR"],
            "allowed_currencies": ["EUR", "BRL"],
            "kyc_required_for_withdrawal": False,
        },
        headers={"authorization": f"Bearer {admin}"},
    )
    assert brand.status_code == 201, brand.text
    limits = await http.put(
        f"/v1/cashier/admin/brands/{BRAND}/auto-approval",
        json={"limits": AUTO_APPROVAL},
        headers=admin_headers("admin"),
    )
    assert limits.status_code == 200, limits.text
    players = []
    for profile, (country, currency, *_) in PROFILES.items():
        for index in range(per_profile):
            players.append(await _register(http, profile, country, currency, index))
    return players


async def _register(http: httpx.AsyncClient, profile: str, country: str, currency: str, index: int) -> CrashPlayer:
    email = f"crash-{profile}-{index}-{uuid.uuid4().hex[:6]}@example.com"
    registered = await http.post(
        f"/v1/identity/brands/{BRAND}/players",
        json={
            "email": email,
            "password": PASSWORD,
            "date_of_birth": "1980-01-01",
            "country": country,
            "currency": currency,
        },
    )
    assert registered.status_code == 201, registered.text
    account = registered.json()["wallet_account_id"]
    login = await http.post("/v1/identity/login", json={"brand_id": BRAND, "email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    await _play_through(http, account, currency)
    return CrashPlayer(registered.json()["id"], login.json()["access_token"], account, profile)


async def _play_through(http: httpx.AsyncClient, account: str, currency: str) -> None:
    """A win and a bet of the same amount: turnover for the AML rule, nothing on the balance."""
    house = await http.post(
        "/v1/wallet/accounts",
        json={
            "brand_id": BRAND,
            "owner_type": "house",
            "owner_id": "house",
            "kind": "bankroll",
            "label": "crash",
            "currency": currency,
            "allow_negative": True,
        },
        headers=service_headers(),
    )
    assert house.status_code in (200, 201), house.text
    for kind, debit, credit in (("win", house.json()["id"], account), ("bet", account, house.json()["id"])):
        moved = await http.post(
            "/v1/wallet/transfers",
            json={
                "idempotency_key": f"crash-{kind}-{uuid.uuid4().hex}",
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": WAGERED,
                "currency": currency,
                "type": kind,
            },
            headers=service_headers(),
        )
        assert moved.status_code == 201, moved.text


def deposit_body(player: CrashPlayer, rng: random.Random) -> dict[str, Any]:
    _, _, method, (low, high), _, _ = PROFILES[player.profile]
    details = {"card_token": "pm_card_visa"} if method == "card" else {}
    return {"method": method, "amount": rng.randint(low, high), "request_key": uuid.uuid4().hex, "details": details}


def withdrawal_body(player: CrashPlayer, rng: random.Random, expected: int) -> dict[str, Any] | None:
    """A withdrawal of what the player expects to have (None: too little yet)."""
    _, _, method, _, (low, high), details = PROFILES[player.profile]
    if expected < low:
        return None
    amount = rng.randint(low, min(high, expected))
    return {"method": method, "amount": amount, "request_key": uuid.uuid4().hex, "details": details}


async def send(http: httpx.AsyncClient, told: Told, player: CrashPlayer, path: str, body: dict[str, Any]) -> bool:
    """One player request; False when the platform could not be reached (its outcome is unknown)."""
    try:
        response = await http.post(path, json=body, headers=player.headers)
    except httpx.TransportError:
        told.unknown.append((player, path, body))
        return False
    if response.status_code == 200:
        payment = response.json()
        told.payments[payment["id"]] = payment
        told.owners[payment["id"]] = player.player_id
    elif response.status_code == 503:
        told.unknown.append((player, path, body))
    elif response.status_code == 422 and response.json().get("code") == "insufficient_funds":
        pass  # a withdrawal larger than what the player has: refused, nothing held
    elif response.status_code == 409 and response.json().get("code") == "withdrawal_not_cancellable":
        pass  # paid out (or ended) before the player's cancel arrived
    else:
        told.unexpected.append(f"POST {path}: {response.status_code} {response.text[:300]}")
    return True


async def play(http: httpx.AsyncClient, player: CrashPlayer, told: Told, stop: asyncio.Event, seed: int) -> None:
    """A player: mostly deposits, some withdrawals, now and then a cancel of a withdrawal still waiting."""
    rng = random.Random(seed)
    while not stop.is_set():
        roll = rng.random()
        withdrawal = withdrawal_body(player, rng, told.expected_balance(player)) if 0.55 <= roll < 0.9 else None
        if withdrawal is not None:
            reached = await send(http, told, player, "/v1/cashier/withdrawals", withdrawal)
        elif roll < 0.9:
            reached = await send(http, told, player, "/v1/cashier/deposits", deposit_body(player, rng))
        else:
            waiting = [
                p["id"]
                for p in told.payments.values()
                if p["kind"] == "withdrawal"
                and p["status"] == "pending_approval"
                and told.owners.get(p["id"]) == player.player_id
            ]
            path = f"/v1/cashier/withdrawals/{rng.choice(waiting)}/cancel" if waiting else None
            reached = await send(http, told, player, path, {}) if path else True
        if not reached:
            return


async def pay_pix(psp: SimulatorControl, told: Told, rng: random.Random, share: float) -> None:
    """The Pix customers: pay `share` of the QR codes still open at the simulator."""
    for charge in await psp.transactions("pix"):
        if charge["kind"] == "payment" and charge["status"] == "pending" and rng.random() < share:
            await psp.complete("pix", charge["id"])
            told.pix_paid += 1


async def customers(psp: SimulatorControl, told: Told, stop: asyncio.Event) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        await pay_pix(psp, told, rng, 0.6)
        await asyncio.sleep(0.1)


async def work_queue(http: httpx.AsyncClient, told: Told, rng: random.Random, reject_share: float) -> bool:
    """The back office: approve (or now and then reject) every withdrawal waiting; False if unreachable."""
    try:
        queue = await http.get("/v1/cashier/admin/withdrawals", headers=admin_headers("finance"))
        for item in queue.json() if queue.status_code == 200 else []:
            if rng.random() < reject_share:
                decision, body = "reject", {"reason": "source of funds unclear"}
            else:
                decision, body = "approve", {}
            answer = await http.post(
                f"/v1/cashier/admin/withdrawals/{item['id']}/{decision}", json=body, headers=admin_headers("finance")
            )
            if answer.status_code == 200:
                told.payments[item["id"]] = answer.json()
                told.approvals += 1
            elif answer.status_code not in (402, 409, 503):  # declined payout / changed meanwhile / going down
                told.unexpected.append(f"{decision}: {answer.status_code} {answer.text[:300]}")
    except httpx.TransportError:
        return False
    return True


async def back_office(http: httpx.AsyncClient, told: Told, stop: asyncio.Event) -> None:
    rng = random.Random(11)
    while not stop.is_set():
        if not await work_queue(http, told, rng, 0.3):
            return
        await asyncio.sleep(0.1)
