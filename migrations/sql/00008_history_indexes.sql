-- +goose Up
-- Every filter of the history routes is an index range scan.
--
-- committed_at is the time an event was committed, non-decreasing in
-- position order (the append takes the later of the clock and the head's
-- committed_at under the head lock). It maps the from/to time filters to a
-- position range. It is not part of the hashes: it only makes reads fast.
-- Rows written before this migration take their occurred_at.
ALTER TABLE es_head ADD COLUMN committed_at timestamptz NOT NULL DEFAULT 'epoch';
ALTER TABLE es_events ADD COLUMN committed_at timestamptz;
UPDATE es_events SET committed_at = occurred_at;
UPDATE es_head SET committed_at = COALESCE((SELECT max(committed_at) FROM es_events), 'epoch');
ALTER TABLE es_events ALTER COLUMN committed_at SET NOT NULL;
CREATE INDEX es_events_committed_at ON es_events (committed_at, global_position);
DROP INDEX es_events_occurred_at;
-- The actor filter: who did what, in position order.
CREATE INDEX es_events_actor_position ON es_events ((metadata->>'actor'), global_position);

-- +goose Down
DROP INDEX es_events_actor_position;
CREATE INDEX es_events_occurred_at ON es_events (occurred_at);
DROP INDEX es_events_committed_at;
ALTER TABLE es_events DROP COLUMN committed_at;
ALTER TABLE es_head DROP COLUMN committed_at;
