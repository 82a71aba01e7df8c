-- The cashier: payments (deposits and withdrawals), their attempts at providers, the webhook queue, FX rates and
-- conversions, routing rules, brand settings, crypto deposit addresses, reconciliation results, and the outbox.

-- One payment is one player request. Its id never changes across failover; each try at a provider is an attempt.
-- status only moves forward (status_rank grows); money moves in the wallet under keys derived from the payment.
CREATE TABLE cashier.payments (
    id                 uuid PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    player_id          text NOT NULL,
    brand_id           text NOT NULL,
    country            text NOT NULL,
    method             text NOT NULL,
    currency           text NOT NULL,                    -- what the provider charges / pays out in
    amount             bigint NOT NULL CHECK (amount >= 0),  -- asked, minor units of currency (crypto: expected)
    wallet_account_id  uuid NOT NULL,
    wallet_currency    text NOT NULL,
    request_key        text NOT NULL,                    -- the player's idempotency key
    request_digest     text NOT NULL,
    details            jsonb NOT NULL DEFAULT '{}',      -- method input (vpa, phone, network); never a card number
    status             text NOT NULL,
    status_rank        smallint NOT NULL,
    provider           text,                             -- the provider of the current (or succeeding) attempt
    attempt_count      integer NOT NULL DEFAULT 0,
    provider_ref       text,
    next_action        jsonb,
    received_amount    bigint,                           -- what actually arrived / was paid, minor units of currency
    credited_amount    bigint,                           -- what the wallet got, minor units of wallet_currency
    credit_key         text,                             -- the wallet idempotency key of the credit / settlement
    credited_at        timestamptz,
    hold_id            uuid,                             -- withdrawals: the wallet hold
    decision_id        uuid,                             -- the compliance verdict that allowed it
    review             jsonb NOT NULL DEFAULT '{}',      -- AML flags, approval, who and when
    failure_code       text,
    failure_detail     text,
    version            integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    completed_at       timestamptz,
    UNIQUE (player_id, request_key)
);
CREATE INDEX payments_player ON cashier.payments (player_id, created_at DESC);
CREATE INDEX payments_status ON cashier.payments (kind, status, updated_at);
CREATE UNIQUE INDEX payments_crypto_tx ON cashier.payments (provider, provider_ref) WHERE method = 'crypto'
    AND kind = 'deposit' AND provider_ref IS NOT NULL AND status <> 'awaiting_transfer';
CREATE INDEX payments_uncredited ON cashier.payments (updated_at) WHERE status = 'succeeded' AND credited_at IS NULL;

-- Each try at one provider. The id is derived from the payment (payment id + "-" + number) and sent as the
-- provider's idempotency key: a retry of the same attempt can never charge twice.
CREATE TABLE cashier.attempts (
    id            text PRIMARY KEY,
    payment_id    uuid NOT NULL REFERENCES cashier.payments (id),
    number        integer NOT NULL CHECK (number >= 1),
    provider      text NOT NULL,
    method        text NOT NULL,
    country       text NOT NULL,
    kind          text NOT NULL,
    status        text NOT NULL,   -- started, pending, succeeded, failed, declined, timeout, superseded
    outcome       text,
    provider_ref  text,
    error_code    text,
    detail        text NOT NULL DEFAULT '',
    latency_ms    double precision,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    callback_at   timestamptz,     -- first webhook about it: callback lag = callback_at - created_at
    UNIQUE (payment_id, number)
);
CREATE INDEX attempts_provider_ref ON cashier.attempts (provider, provider_ref);
CREATE INDEX attempts_recent ON cashier.attempts (provider, created_at);

-- The durable webhook queue: stored as received (raw body) before the provider gets its 200.
CREATE TABLE cashier.webhook_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider         text NOT NULL,
    digest           text NOT NULL,       -- SHA-256 of the raw body: an identical redelivery is the same row
    body             bytea NOT NULL,
    headers          jsonb NOT NULL,
    received_at      timestamptz NOT NULL,
    deliveries       integer NOT NULL DEFAULT 1,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    applied_at       timestamptz,
    events           jsonb,               -- what the adapter read from it, once applied
    UNIQUE (provider, digest)
);
CREATE INDEX webhook_events_due ON cashier.webhook_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_events_dead ON cashier.webhook_events (provider, id) WHERE status = 'dead';

-- One deposit address per player, asset, network and provider.
CREATE TABLE cashier.crypto_addresses (
    provider           text NOT NULL,
    network            text NOT NULL,
    address            text NOT NULL,
    asset              text NOT NULL,
    player_id          text NOT NULL,
    brand_id           text NOT NULL,
    country            text NOT NULL,
    wallet_account_id  uuid NOT NULL,
    wallet_currency    text NOT NULL,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (provider, network, address),
    UNIQUE (player_id, provider, asset, network)
);

CREATE TABLE cashier.fx_rates (
    id            uuid PRIMARY KEY,
    base          text NOT NULL,
    quote         text NOT NULL,
    rate          numeric(38, 18) NOT NULL CHECK (rate > 0),   -- 1 base = rate quote (major units)
    spread_bps    integer NOT NULL CHECK (spread_bps BETWEEN 0 AND 5000),
    source        text NOT NULL,
    effective_at  timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    CHECK (base <> quote)
);
CREATE INDEX fx_rates_pair ON cashier.fx_rates (base, quote, effective_at DESC);

-- Every conversion, with the rate it used: auditable from the ledger (the wallet transfers carry conversion_id).
CREATE TABLE cashier.conversions (
    id             uuid PRIMARY KEY,
    payment_id     uuid NOT NULL UNIQUE REFERENCES cashier.payments (id),
    from_currency  text NOT NULL,
    from_amount    bigint NOT NULL,
    to_currency    text NOT NULL,
    to_amount      bigint NOT NULL,
    rate_id        uuid NOT NULL REFERENCES cashier.fx_rates (id),
    rate           numeric(38, 18) NOT NULL,
    spread_bps     integer NOT NULL,
    converted_at   timestamptz NOT NULL
);

CREATE TABLE cashier.routes (
    id          uuid PRIMARY KEY,
    brand_id    text,       -- null: every brand
    country     text,
    method      text,
    currency    text,
    min_amount  bigint,
    max_amount  bigint,
    bin_from    text,       -- card BIN range (first 6-8 digits), inclusive
    bin_to      text,
    provider    text NOT NULL,
    priority    integer NOT NULL DEFAULT 100,
    weight      integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL
);

CREATE TABLE cashier.brand_settings (
    brand_id             text PRIMARY KEY,
    auto_approve_limits  jsonb NOT NULL DEFAULT '{}',   -- currency -> largest withdrawal approved without review
    updated_at           timestamptz NOT NULL
);

-- Every AML verdict on a withdrawal, allow or review.
CREATE TABLE cashier.aml_checks (
    id          uuid PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES cashier.payments (id),
    rule        text NOT NULL,
    verdict     text NOT NULL CHECK (verdict IN ('pass', 'review')),
    facts       jsonb NOT NULL,
    checked_at  timestamptz NOT NULL
);
CREATE INDEX aml_checks_payment ON cashier.aml_checks (payment_id);

CREATE TABLE cashier.reconciliations (
    id                uuid PRIMARY KEY,
    provider          text NOT NULL,
    day               date NOT NULL,
    run_at            timestamptz NOT NULL,
    ledger_lines      integer NOT NULL,
    provider_lines    integer NOT NULL,
    matched           integer NOT NULL,
    discrepancies     integer NOT NULL
);
CREATE INDEX reconciliations_provider_day ON cashier.reconciliations (provider, day, run_at DESC);

CREATE TABLE cashier.reconciliation_items (
    id                 uuid PRIMARY KEY,
    reconciliation_id  uuid NOT NULL REFERENCES cashier.reconciliations (id),
    kind               text NOT NULL CHECK (kind IN ('missing_in_ledger', 'missing_at_provider', 'amount_mismatch',
                                                     'status_mismatch')),
    reference          text,
    provider_ref       text,
    payment_id         uuid,
    currency           text,
    ledger_amount      bigint,
    provider_amount    bigint,
    ledger_status      text,
    provider_status    text,
    detail             text NOT NULL
);
CREATE INDEX reconciliation_items_run ON cashier.reconciliation_items (reconciliation_id);

CREATE TABLE cashier.outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    brand_id        text,
    trace_id        text,
    payload         json NOT NULL,
    published_at    timestamptz
);
