-- +goose Up
-- Rebuilds of asynchronous projectors while the service keeps serving.
-- rebuild_requested_at marks a checkpoint for reset: the replica leading the
-- projector resets its read model, replays from position 0 and clears the
-- mark. generation counts those resets, so a waiting operator command can tell
-- that its rebuild has started.
ALTER TABLE es_checkpoints
    ADD COLUMN generation           bigint NOT NULL DEFAULT 0,
    ADD COLUMN rebuild_requested_at timestamptz;

-- +goose Down
ALTER TABLE es_checkpoints
    DROP COLUMN rebuild_requested_at,
    DROP COLUMN generation;
