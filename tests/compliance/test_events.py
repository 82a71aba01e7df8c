"""Compliance events: limit changes and exclusions are published through the compliance outbox, with their brand."""

import json
import uuid
from datetime import date

import asyncpg

from croupier.bootstrap import Platform
from croupier.compliance.events import ExclusionStarted, LimitChanged, parse_payload
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest


async def registered_player(platform: Platform) -> str:
    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {"id": "events-brand", "name": "E", "allowed_countries": ["GB"], "allowed_currencies": ["EUR"]}
        )
    )
    profile = await platform.identity.register(
        "events-brand",
        RegisterPlayerRequest.model_validate(
            {
                "email": f"e-{uuid.uuid4().hex[:8]}@example.com",
                "password": "long enough password",
                "date_of_birth": date(1980, 1, 1),
                "country": "GB",
                "currency": "EUR",
            }
        ),
        ip="192.0.2.10",
    )
    return str(profile.id)


async def test_limit_change_and_exclusion_when_made_are_written_to_the_outbox(
    platform: Platform, db: asyncpg.Connection
) -> None:
    player = await registered_player(platform)
    assert platform.compliance is not None
    await platform.compliance.set_limit(player, "deposit", "day", 5000)
    await platform.compliance.exclude(player, "timeout", hours=48)
    rows = await db.fetch("SELECT type, brand_id, payload FROM compliance.outbox ORDER BY id")
    assert [row["type"] for row in rows] == ["compliance.limit.changed", "compliance.exclusion.started"]
    assert {row["brand_id"] for row in rows} == {"events-brand"}
    limit = parse_payload(rows[0]["type"], json.loads(rows[0]["payload"]))
    assert isinstance(limit, LimitChanged)
    assert (limit.player_id, limit.kind, limit.in_force, limit.immediate) == (player, "deposit", 5000, True)
    exclusion = parse_payload(rows[1]["type"], json.loads(rows[1]["payload"]))
    assert isinstance(exclusion, ExclusionStarted)
    assert (exclusion.ends_at - exclusion.starts_at).total_seconds() == 48 * 3600
