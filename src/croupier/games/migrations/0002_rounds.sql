-- Rounds, their append-only audit log and the hash chain that seals it; per-brand game configuration.
-- See docs/games.md ("Round lifecycle", "Audit") and docs/adr/0008-round-lifecycle-and-audit-chain.md.

-- Per-brand configuration. No row means the documented default (every game on, stake-v1, default settings).
CREATE TABLE games.brand_settings (
    brand_id    text PRIMARY KEY,
    rng_version text NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE games.game_settings (
    brand_id   text NOT NULL,
    game       text NOT NULL,
    enabled    boolean NOT NULL,
    settings   jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (brand_id, game)
);

-- Bet limits per brand, game and currency, in minor units (no row: the currency's documented default).
CREATE TABLE games.bet_limits (
    brand_id   text NOT NULL,
    game       text NOT NULL,
    currency   text NOT NULL,
    min_stake  bigint NOT NULL CHECK (min_stake >= 1),
    max_stake  bigint NOT NULL CHECK (max_stake >= min_stake),
    max_win    bigint NOT NULL CHECK (max_win >= max_stake),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (brand_id, game, currency)
);

-- The working state of each round (what the lifecycle and the player API read). The record a regulator relies on
-- is games.audit_log: every change of a round is appended there in the same transaction as it is made here.
--
-- status: open (stored, initial stake not confirmed) -> active (multi-step: waiting for the player) ->
--         settling (outcome fixed, win being paid) -> closed; or open -> voiding -> cancelled | refunded
--         (interrupted before its outcome was fixed); or open -> rejected (the wallet refused the stake).
CREATE TABLE games.rounds (
    id                uuid PRIMARY KEY,
    player_id         text NOT NULL,
    brand_id          text NOT NULL,
    request_key       text NOT NULL,
    game              text NOT NULL,
    currency          text NOT NULL,
    stake             bigint NOT NULL CHECK (stake > 0),
    params            jsonb NOT NULL,
    settings          jsonb NOT NULL,
    max_win           bigint NOT NULL CHECK (max_win > 0),
    rng_version       text NOT NULL,
    pair_id           uuid REFERENCES games.seed_pairs (id),
    nonce             bigint,
    server_seed_hash  text,
    client_seed       text,
    certified_seed    text,
    player_account_id uuid NOT NULL,
    house_account_id  uuid NOT NULL,
    status            text NOT NULL CHECK (status IN
                          ('open', 'active', 'settling', 'closed', 'voiding', 'cancelled', 'refunded', 'rejected')),
    version           integer NOT NULL,  -- entries this round has in the audit log (the next entry's seq)
    actions           jsonb NOT NULL,    -- the player's steps so far (multi-step games), in order
    stakes            jsonb NOT NULL,    -- applied stake transfers: [{"key", "transfer_id", "amount"}]
    pending_stakes    text[] NOT NULL,   -- idempotency keys of extra stakes attempted (settled against stakes)
    staked            bigint NOT NULL,
    payout            bigint,
    outcome           jsonb,
    win_transfer_id   uuid,
    view              jsonb NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    CHECK ((rng_version = 'stake-v1') = (pair_id IS NOT NULL AND nonce IS NOT NULL)),
    CHECK ((rng_version = 'certified-v1') = (certified_seed IS NOT NULL))
);
CREATE UNIQUE INDEX rounds_request ON games.rounds (player_id, request_key);
CREATE INDEX rounds_player ON games.rounds (player_id, id DESC);
CREATE INDEX rounds_unfinished ON games.rounds (updated_at) WHERE status IN ('open', 'active', 'settling', 'voiding');

-- The audit log: append-only. Each entry's body is canonical JSON text (sorted keys, no spaces) exactly as it was
-- hashed; the columns repeat what is needed to query it. txid orders entries for the sealer (as the wallet feed).
CREATE TABLE games.audit_log (
    id          uuid PRIMARY KEY,
    round_id    uuid,         -- null for entries about a seed pair (a revealed server seed)
    seq         integer,      -- the entry's position within its round
    kind        text NOT NULL,
    body        text NOT NULL,
    recorded_at timestamptz NOT NULL,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE UNIQUE INDEX audit_log_round_seq ON games.audit_log (round_id, seq);
CREATE INDEX audit_log_feed ON games.audit_log (txid, id);
-- The revealed server seed of a pair, for `croupier round replay`.
CREATE INDEX audit_log_seed_revealed ON games.audit_log ((body::jsonb ->> 'pair_id')) WHERE kind = 'seed_revealed';

-- The hash chain: the sealer appends every audit entry of a finished transaction, in (txid, id) order.
-- entry_hash = sha256(body); chain_hash = sha256(previous chain_hash || entry_hash), hex, genesis = 64 zeros.
CREATE TABLE games.audit_chain (
    position   bigint PRIMARY KEY CHECK (position >= 0),
    entry_id   uuid NOT NULL UNIQUE,
    entry_txid xid8 NOT NULL,
    entry_hash text NOT NULL,
    chain_hash text NOT NULL,
    sealed_at  timestamptz NOT NULL
);

-- Neither table can be changed through SQL by the application: updates and deletes fail. (Someone with the rights
-- to drop this trigger can still edit rows; `croupier audit verify` detects that from the chain.)
CREATE FUNCTION games.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'games.%: the audit record is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON games.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION games.refuse_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON games.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION games.refuse_change();
