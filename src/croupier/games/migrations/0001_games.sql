-- The games service. First part: provably-fair seed pairs (rounds, their audit chain and recovery come next).

-- One active pair per player: the server seed is committed (its SHA-256 shown) before any bet, and revealed only
-- when the player rotates to a new pair. The seed is stored because outcomes are computed from it; no API returns
-- it before revealed_at is set.
CREATE TABLE games.seed_pairs (
    id               uuid PRIMARY KEY,
    player_id        text NOT NULL,
    brand_id         text NOT NULL,
    server_seed      text NOT NULL,
    server_seed_hash text NOT NULL,
    client_seed      text NOT NULL,
    next_nonce       bigint NOT NULL DEFAULT 0 CHECK (next_nonce >= 0),
    created_at       timestamptz NOT NULL,
    revealed_at      timestamptz
);
CREATE UNIQUE INDEX seed_pairs_one_active_per_player ON games.seed_pairs (player_id) WHERE revealed_at IS NULL;
CREATE INDEX seed_pairs_player ON games.seed_pairs (player_id, created_at);

CREATE TABLE games.outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    brand_id        text,
    trace_id        text,
    payload         json NOT NULL,
    published_at    timestamptz
);
