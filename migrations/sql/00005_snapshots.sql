-- +goose Up
-- Snapshots of tenant state every N versions, written with the append by the
-- tenants read model. They only shorten replays: a snapshot holds exactly the
-- state the events up to its version fold to, and readers ignore snapshots of
-- another format.
CREATE TABLE es_snapshots (
    stream_id   text NOT NULL REFERENCES es_streams (stream_id),
    version     bigint NOT NULL,
    occurred_at timestamptz NOT NULL,   -- when the snapshot's last event occurred
    format      smallint NOT NULL,
    state       jsonb NOT NULL,
    PRIMARY KEY (stream_id, version)
);

-- +goose Down
DROP TABLE es_snapshots;
