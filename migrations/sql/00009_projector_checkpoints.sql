-- +goose Up
-- The asynchronous projectors' checkpoints belong to the projectors, not to
-- the event store: only the event store's own tables keep the es_ prefix.
ALTER TABLE es_checkpoints RENAME TO projector_checkpoints;

-- +goose Down
ALTER TABLE projector_checkpoints RENAME TO es_checkpoints;
