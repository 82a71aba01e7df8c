-- The wallet ledger: accounts, immutable double-entry transfers, idempotency records, hold expiries, outbox.

-- Exponents are pinned the first time a currency is used: changing one later would rescale every stored amount.
CREATE TABLE wallet.currencies (
    code        text PRIMARY KEY,
    exponent    smallint NOT NULL CHECK (exponent BETWEEN 0 AND 18),
    pinned_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallet.accounts (
    id              uuid PRIMARY KEY,
    brand_id        text NOT NULL,
    owner_type      text NOT NULL CHECK (owner_type IN ('player', 'house')),
    owner_id        text NOT NULL,
    kind            text NOT NULL,
    label           text NOT NULL DEFAULT '',
    currency        text NOT NULL REFERENCES wallet.currencies (code),
    allow_negative  boolean NOT NULL,
    -- Running totals, maintained by the ledger writer and recomputable from wallet.transfers (croupier wallet verify).
    debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT player_accounts_never_negative_by_rule CHECK (owner_type = 'house' OR NOT allow_negative),
    -- Defence in depth: the writer already refuses these; the database refuses them too.
    CONSTRAINT available_not_negative CHECK (allow_negative OR debits_posted + debits_pending <= credits_posted),
    CONSTRAINT one_account_per_owner_kind_label_currency UNIQUE (brand_id, owner_type, owner_id, kind, label, currency)
) WITH (fillfactor = 70);  -- room on each page so balance updates stay HOT (no index churn on the hot account)

-- kind:  transfer     money moved (posted at once)
--        hold         funds reserved (pending) until posted, voided or expired
--        hold_post    a hold resolved by posting all or part of it (hold_id names it; the rest is released)
--        hold_void    a hold released in full by request
--        hold_expiry  a hold released in full because it expired
-- A hold is resolved at most once (unique index on hold_id); a transfer is reversed at most once (on reverses_id).
-- No foreign keys: each would cost a trigger query per row on the hottest insert of the platform. References hold by
-- construction instead: the writer locks every account it writes in the same transaction, accounts and transfers can
-- never be deleted (triggers below), and `croupier wallet verify` checks every reference (ADR 0002).
CREATE TABLE wallet.transfers (
    id                  uuid PRIMARY KEY,
    request_key         text NOT NULL,
    position            smallint NOT NULL DEFAULT 0,
    kind                text NOT NULL CHECK (kind IN ('transfer', 'hold', 'hold_post', 'hold_void', 'hold_expiry')),
    type                text NOT NULL,
    brand_id            text NOT NULL,
    debit_account_id    uuid NOT NULL,
    credit_account_id   uuid NOT NULL,
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL,
    hold_id             uuid,
    reverses_id         uuid,
    expires_at          timestamptz,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    CONSTRAINT distinct_accounts CHECK (debit_account_id <> credit_account_id),
    CONSTRAINT resolution_names_its_hold CHECK ((kind IN ('hold_post', 'hold_void', 'hold_expiry')) = (hold_id IS NOT NULL)),
    CONSTRAINT only_holds_expire CHECK (kind = 'hold' OR expires_at IS NULL)
);
CREATE UNIQUE INDEX transfers_hold_resolved_once ON wallet.transfers (hold_id) WHERE hold_id IS NOT NULL;
CREATE UNIQUE INDEX transfers_reversed_once ON wallet.transfers (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX transfers_by_debit_account ON wallet.transfers (debit_account_id, id);
CREATE INDEX transfers_by_credit_account ON wallet.transfers (credit_account_id, id);

-- One row per accepted command, keyed by the client's idempotency key. `result` is the response as it was first
-- given, returned again on a replay (balances as they were then, not recomputed). A 'tombstone' row reserves the key
-- of a transfer that was reversed before it arrived, so that it is refused if it ever does.
CREATE TABLE wallet.requests (
    key             text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('transfer', 'batch', 'hold', 'hold_post', 'hold_void', 'hold_expiry',
                                                  'reversal', 'tombstone')),
    request_hash    bytea NOT NULL,
    result          json NOT NULL,  -- json, not jsonb: the text is kept exactly as first sent
    created_at      timestamptz NOT NULL
);

-- Open holds that can expire: a working set (rows leave when the hold is resolved), not a record of money.
CREATE TABLE wallet.hold_expiries (
    hold_id     uuid PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX hold_expiries_due ON wallet.hold_expiries (expires_at);

CREATE TABLE wallet.outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    brand_id        text,
    trace_id        text,
    payload         json NOT NULL,
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON wallet.outbox (id) WHERE published_at IS NULL;

-- Money records are append-only: corrections are new reversing transfers, never edits. Accounts are never deleted.
CREATE FUNCTION wallet.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallet.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON wallet.transfers
    FOR EACH ROW EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON wallet.transfers
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON wallet.accounts
    FOR EACH ROW EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON wallet.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER requests_append_only BEFORE UPDATE OR DELETE ON wallet.requests
    FOR EACH ROW EXECUTE FUNCTION wallet.refuse_change();
CREATE TRIGGER requests_no_truncate BEFORE TRUNCATE ON wallet.requests
    FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_change();
