-- Identity: brands (tenants), players, back-office users, sessions with rotating refresh tokens, KYC history, outbox.

CREATE TABLE identity.brands (
    id                              text PRIMARY KEY,
    name                            text NOT NULL,
    licence                         text NOT NULL DEFAULT '',
    jurisdiction                    text NOT NULL DEFAULT '',
    allowed_countries               text[] NOT NULL CHECK (cardinality(allowed_countries) >= 1),
    denied_countries                text[] NOT NULL DEFAULT '{}',
    allowed_currencies              text[] NOT NULL CHECK (cardinality(allowed_currencies) >= 1),
    min_age                         smallint NOT NULL DEFAULT 18 CHECK (min_age BETWEEN 18 AND 25),
    kyc_required_for_deposit        boolean NOT NULL DEFAULT false,
    kyc_deposit_threshold           bigint CHECK (kyc_deposit_threshold >= 0),
    kyc_required_for_withdrawal     boolean NOT NULL DEFAULT true,
    cooling_off_hours               integer NOT NULL DEFAULT 24 CHECK (cooling_off_hours >= 0),
    reality_check_minutes           integer NOT NULL DEFAULT 60 CHECK (reality_check_minutes >= 0),
    register_unreachable_on_registration text NOT NULL DEFAULT 'deny'
        CHECK (register_unreachable_on_registration IN ('deny', 'allow')),
    register_unreachable_on_login   text NOT NULL DEFAULT 'allow'
        CHECK (register_unreachable_on_login IN ('deny', 'allow')),
    created_at                      timestamptz NOT NULL,
    updated_at                      timestamptz NOT NULL
);

-- status: pending (registered, wallet account not open yet), active, blocked, closed.
CREATE TABLE identity.players (
    id                  uuid PRIMARY KEY,
    brand_id            text NOT NULL REFERENCES identity.brands (id),
    email               text NOT NULL,
    password_hash       text NOT NULL,
    date_of_birth       date NOT NULL,
    country             text NOT NULL,
    currency            text NOT NULL,
    first_name          text,
    last_name           text,
    postcode            text,
    status              text NOT NULL CHECK (status IN ('pending', 'active', 'blocked', 'closed')),
    kyc_status          text NOT NULL DEFAULT 'unverified'
        CHECK (kyc_status IN ('unverified', 'pending', 'verified', 'rejected')),
    wallet_account_id   uuid,
    failed_logins       integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT one_player_per_brand_email UNIQUE (brand_id, email),
    CONSTRAINT active_players_have_a_wallet CHECK (status = 'pending' OR wallet_account_id IS NOT NULL)
);

-- A session is one login; its refresh tokens form one family (reuse of any used token revokes the session).
CREATE TABLE identity.sessions (
    id                  uuid PRIMARY KEY,
    player_id           uuid NOT NULL REFERENCES identity.players (id),
    created_at          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    ip                  text NOT NULL,
    user_agent          text NOT NULL DEFAULT '',
    restricted          boolean NOT NULL DEFAULT false,
    restriction_reason  text,
    revoked_at          timestamptz,
    revoked_reason      text
);
CREATE INDEX sessions_of_player ON identity.sessions (player_id, created_at);

-- Only the SHA-256 of a refresh token is stored: a database leak does not leak usable tokens.
CREATE TABLE identity.refresh_tokens (
    token_hash      bytea PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES identity.sessions (id),
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX refresh_tokens_of_session ON identity.refresh_tokens (session_id);

CREATE TABLE identity.admins (
    id              uuid PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    password_hash   text NOT NULL,
    roles           text[] NOT NULL CHECK (roles <@ ARRAY['support', 'risk', 'finance', 'admin']::text[]),
    disabled        boolean NOT NULL DEFAULT false,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Every KYC transition, append-only. Document metadata only (never files): type, last 4, issuing country, expiry.
CREATE TABLE identity.kyc_events (
    id              uuid PRIMARY KEY,
    player_id       uuid NOT NULL REFERENCES identity.players (id),
    from_status     text NOT NULL,
    to_status       text NOT NULL,
    by_actor        text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    document        jsonb,
    at              timestamptz NOT NULL
);
CREATE INDEX kyc_events_of_player ON identity.kyc_events (player_id, at);

CREATE TABLE identity.outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    brand_id        text,
    trace_id        text,
    payload         json NOT NULL,
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON identity.outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION identity.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'identity.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER kyc_events_append_only BEFORE UPDATE OR DELETE ON identity.kyc_events
    FOR EACH ROW EXECUTE FUNCTION identity.refuse_change();
CREATE TRIGGER kyc_events_no_truncate BEFORE TRUNCATE ON identity.kyc_events
    FOR EACH STATEMENT EXECUTE FUNCTION identity.refuse_change();
