-- +goose Up
-- es_events no longer checks each event's stream with a foreign key. The
-- check ran once per event on the group commit's serial path (under the
-- head-row lock): about an eighth of PostgreSQL's time for a group of four
-- creates. What it guarded is kept otherwise:
--   * the only writer, es_append_events, is called by the group commit in
--     the transaction that creates or locks and moves each stream's row;
--   * stream rows are never deleted;
--   * `events verify` reports events whose stream is not recorded, and a
--     stream whose row disagrees with its last event.
ALTER TABLE es_events DROP CONSTRAINT es_events_stream_id_fkey;

-- +goose Down
ALTER TABLE es_events ADD CONSTRAINT es_events_stream_id_fkey
    FOREIGN KEY (stream_id) REFERENCES es_streams (stream_id);
