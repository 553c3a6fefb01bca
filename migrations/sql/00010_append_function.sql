-- +goose Up
-- The head of the log, in one statement: under the head-row lock, number a
-- group commit's events from the head, link them into the global chain
-- (SHA-256 over the previous chain hash, the position as 8 big-endian bytes
-- and the event's own hash, computed by the caller), insert them and move
-- the head. The head lock is then held for this statement and the commit
-- only, never across a round trip to the service. (Readers are signalled
-- after the commit, outside the lock.)
-- +goose StatementBegin
CREATE FUNCTION es_append_events(
    p_event_ids uuid[], p_stream_ids text[], p_versions bigint[], p_tenant_ids uuid[],
    p_types text[], p_schemas smallint[], p_data jsonb[], p_metadata jsonb[],
    p_occurred timestamptz[], p_hashes bytea[], p_now timestamptz,
    OUT first_position bigint, OUT chain_hashes bytea[], OUT committed timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    pos   bigint;
    chain bytea;
BEGIN
    SELECT h.position, h.chain_hash, greatest(h.committed_at, p_now)
      INTO pos, chain, committed
      FROM es_head h WHERE h.id = 1 FOR UPDATE;
    first_position := pos + 1;
    chain_hashes := '{}';
    FOR i IN 1 .. cardinality(p_event_ids) LOOP
        pos := pos + 1;
        chain := sha256(chain || int8send(pos) || p_hashes[i]);
        chain_hashes := chain_hashes || chain;
    END LOOP;
    INSERT INTO es_events (global_position, event_id, stream_id, version, tenant_id, event_type,
                           schema_version, data, metadata, occurred_at, hash, chain_hash, committed_at)
    SELECT first_position + e.n - 1, e.event_id, e.stream_id, e.version, e.tenant_id, e.event_type,
           e.schema_version, e.data, e.metadata, e.occurred_at, e.hash, e.chain_hash, committed
      FROM unnest(p_event_ids, p_stream_ids, p_versions, p_tenant_ids, p_types, p_schemas, p_data,
                  p_metadata, p_occurred, p_hashes, chain_hashes)
           WITH ORDINALITY AS e(event_id, stream_id, version, tenant_id, event_type, schema_version,
                                data, metadata, occurred_at, hash, chain_hash, n);
    UPDATE es_head SET position = pos, chain_hash = chain, committed_at = committed WHERE id = 1;
END
$$;
-- +goose StatementEnd

-- A write that must change a row raises instead of changing none, so that a
-- pipelined group commit stops there (SQLSTATE ES001, the refusal of one
-- append) instead of committing the rest.
-- +goose StatementBegin
CREATE FUNCTION es_must_change(changed bigint, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed = 0 THEN
        RAISE EXCEPTION 'no row changed: %', what USING ERRCODE = 'ES001';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION es_must_change(bigint, text);
DROP FUNCTION es_append_events(uuid[], text[], bigint[], uuid[], text[], smallint[], jsonb[], jsonb[],
    timestamptz[], bytea[], timestamptz);
