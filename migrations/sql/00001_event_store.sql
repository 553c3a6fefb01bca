-- +goose Up
-- The event store. Appends serialise on the single es_head row, so global
-- positions are gap-free and commit-ordered: a reader that saw position N never
-- later finds a newly committed event below N.
CREATE TABLE es_streams (
    stream_id  text PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    version    bigint NOT NULL CHECK (version >= 0),
    last_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE es_head (
    id         smallint PRIMARY KEY CHECK (id = 1),
    position   bigint NOT NULL,
    chain_hash bytea NOT NULL
);
INSERT INTO es_head (id, position, chain_hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE es_events (
    global_position bigint PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    stream_id       text NOT NULL REFERENCES es_streams (stream_id),
    version         bigint NOT NULL,
    tenant_id       uuid NOT NULL,
    event_type      text NOT NULL,
    schema_version  smallint NOT NULL DEFAULT 1,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    hash            bytea NOT NULL,
    chain_hash      bytea NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE INDEX es_events_tenant_position ON es_events (tenant_id, global_position);
CREATE INDEX es_events_type_position ON es_events (event_type, global_position);
CREATE INDEX es_events_occurred_at ON es_events (occurred_at);

-- Idempotency keys: a retried command with the same key returns the first result.
CREATE TABLE es_idempotency (
    scope        text PRIMARY KEY,        -- actor + ':' + Idempotency-Key
    request_hash bytea NOT NULL,          -- what was asked, to refuse a different request under the same key
    stream_id    text NOT NULL,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX es_idempotency_created_at ON es_idempotency (created_at);

-- Checkpoints of asynchronous projectors (the Redis read model, the RabbitMQ relay).
CREATE TABLE es_checkpoints (
    subscriber text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_error text
);

-- +goose Down
DROP TABLE es_checkpoints, es_idempotency, es_events, es_head, es_streams;
