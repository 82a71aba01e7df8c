-- The compliance service: player limits, time-outs and self-exclusions, reality-check settings, the activity that
-- limits are measured against (projected from the wallet's event feed), and the append-only decision log.

-- Limits: one row per player, kind and period. `amount` is in effect now; a raise or a removal waits in
-- pending_amount / pending_removal until pending_effective_at (the brand's cooling-off period).
CREATE TABLE compliance.limits (
    player_id            text NOT NULL,
    brand_id             text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('deposit', 'loss', 'wager', 'session_time')),
    period               text NOT NULL CHECK (period IN ('day', 'week', 'month', 'session')),
    amount               bigint CHECK (amount > 0),
    pending_amount       bigint CHECK (pending_amount > 0),
    pending_removal      boolean NOT NULL DEFAULT false,
    pending_effective_at timestamptz,
    currency             text,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (player_id, kind, period),
    CHECK ((kind = 'session_time') = (period = 'session'))
);

-- Every request to change a limit, as asked and as decided (immediate or after cooling-off).
CREATE TABLE compliance.limit_changes (
    id           uuid PRIMARY KEY,
    player_id    text NOT NULL,
    kind         text NOT NULL,
    period       text NOT NULL,
    old_amount   bigint,
    new_amount   bigint,
    effective_at timestamptz NOT NULL,
    immediate    boolean NOT NULL,
    requested_at timestamptz NOT NULL
);
CREATE INDEX limit_changes_player ON compliance.limit_changes (player_id, requested_at);

-- Time-outs and self-exclusions. Never updated, never deleted: an exclusion cannot be shortened or lifted.
CREATE TABLE compliance.exclusions (
    id         uuid PRIMARY KEY,
    player_id  text NOT NULL,
    brand_id   text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('timeout', 'self_exclusion')),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason     text,
    created_at timestamptz NOT NULL
);
CREATE INDEX exclusions_player ON compliance.exclusions (player_id, ends_at);

-- One counter per player, raised in the transaction of every change to the player's limits or exclusions. The gate
-- caches limits and exclusions with the counter they were read at, and writes its decision only if the counter is
-- still the same (in the decision's own INSERT): a cached entry can never outlive a change.
CREATE TABLE compliance.player_versions (
    player_id text PRIMARY KEY,
    version   bigint NOT NULL
);

CREATE TABLE compliance.reality_checks (
    player_id        text PRIMARY KEY,
    interval_minutes integer NOT NULL CHECK (interval_minutes BETWEEN 5 AND 1440),
    updated_at       timestamptz NOT NULL
);

-- Activity per player and hour, from the wallet's events (never from the client application).
CREATE TABLE compliance.activity (
    player_id  text NOT NULL,
    hour       timestamptz NOT NULL,
    wagered    bigint NOT NULL DEFAULT 0,
    won        bigint NOT NULL DEFAULT 0,
    deposited  bigint NOT NULL DEFAULT 0,
    withdrawn  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (player_id, hour)
);

-- The wallet feed as consumed: event ids applied (so no event counts twice, whichever process applies it) and the
-- feed cursor.
CREATE TABLE compliance.consumed_events (
    event_id   uuid PRIMARY KEY,
    applied_at timestamptz NOT NULL
);
CREATE TABLE compliance.feed_cursors (
    feed   text PRIMARY KEY,
    cursor text NOT NULL
);

-- Every verdict of the gate, allow and deny: what was asked, what the rules saw, which rule decided, and why.
CREATE TABLE compliance.decisions (
    id           uuid PRIMARY KEY,
    player_id    text,
    brand_id     text NOT NULL,
    action       text NOT NULL,
    amount       bigint,
    allowed      boolean NOT NULL,
    reason       text NOT NULL,
    rule         text NOT NULL,
    rule_version integer NOT NULL,
    inputs       jsonb NOT NULL,
    decided_at   timestamptz NOT NULL
);
CREATE INDEX decisions_player ON compliance.decisions (player_id, decided_at);
CREATE INDEX decisions_time ON compliance.decisions (decided_at);

CREATE TABLE compliance.outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    brand_id        text,
    trace_id        text,
    payload         json NOT NULL,
    published_at    timestamptz
);

CREATE FUNCTION compliance.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compliance.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON compliance.decisions
    FOR EACH ROW EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON compliance.decisions
    FOR EACH STATEMENT EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER exclusions_append_only BEFORE UPDATE OR DELETE ON compliance.exclusions
    FOR EACH ROW EXECUTE FUNCTION compliance.refuse_change();
CREATE TRIGGER limit_changes_append_only BEFORE UPDATE OR DELETE ON compliance.limit_changes
    FOR EACH ROW EXECUTE FUNCTION compliance.refuse_change();
