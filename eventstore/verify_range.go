package eventstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// verifyBatch is how many events are hashed together (in parallel) while a
// stream or a page is verified.
const verifyBatch = 5000

// VerifyStream checks one stream's hash chain in one consistent snapshot:
// every event's hash over its content and its stream predecessor, the global
// chain link of every event to the position before it, and that the
// stream's recorded version and last hash agree with its last event (so a
// stream whose newest events were deleted is caught). A stream with no
// events and no record comes back at version 0 with nothing checked.
func (s *Reader) VerifyStream(ctx context.Context, streamID string) (_ domain.StreamVerification, err error) {
	defer postgres.ClassifyOn(&err)
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return domain.StreamVerification{}, fmt.Errorf("verify stream %s: %w", streamID, err)
	}
	defer tx.Rollback(context.Background())
	res := domain.StreamVerification{StreamID: streamID}
	var recorded int64
	var lastHash []byte
	err = tx.QueryRow(ctx, `SELECT version, last_hash FROM es_streams WHERE stream_id = $1`, streamID).Scan(&recorded, &lastHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("verify stream %s: read its record: %w", streamID, err)
	}
	res.Version = domain.Version(recorded)
	// Each event comes with the chain hash of the position before it, so
	// its link into the global chain is checked too.
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+`,
		(SELECT p.chain_hash FROM es_events p WHERE p.global_position = e.global_position - 1)
		FROM es_events e WHERE stream_id = $1 ORDER BY version`, streamID)
	if err != nil {
		return res, fmt.Errorf("verify stream %s: %w", streamID, err)
	}
	v := NewVerifier()
	v.Partial = true
	versions := map[domain.Position]domain.Version{}
	err = checkRows(rows, v, versions, func(le *LinkedEvent, extra []any) {
		if prev := *extra[0].(*[]byte); len(prev) > 0 {
			le.PrevChainHash = hex.EncodeToString(prev)
		} else if le.Position == 1 {
			le.PrevChainHash = hex.EncodeToString(ZeroHash)
		}
	}, new([]byte))
	if err != nil {
		return res, fmt.Errorf("verify stream %s: %w", streamID, err)
	}
	res.Checked = v.Checked()
	if b := v.Break(); b != nil {
		res.Break = &domain.ChainBreak{Position: b.Position, Version: versions[b.Position], StreamID: streamID, Reason: b.Reason}
		return res, nil
	}
	tip := v.streams[streamID]
	last := ZeroHash
	if tip.version > 0 {
		last = tip.hash
	}
	if tip.version != res.Version || (recorded > 0 && !bytes.Equal(lastHash, last)) {
		res.Break = &domain.ChainBreak{Position: v.LastPosition(), Version: tip.version, StreamID: streamID, Reason: fmt.Sprintf(
			"the stream is recorded at version %d but its last event is version %d (or its hash differs): its newest events were deleted",
			res.Version, tip.version)}
	}
	return res, nil
}

// VerifyFeed checks the page of the global chain after position after (at
// most limit events) in one consistent snapshot. The page is anchored: its
// first event must follow from the chain hash stored at after (the zero
// hash at 0), positions must be gap-free, every event's content must match
// its hash over its stream predecessor (read from the store when it is
// before the page), and a page that reaches the head must end with the
// head's chain hash.
func (s *Reader) VerifyFeed(ctx context.Context, after domain.Position, limit int) (_ domain.FeedVerification, err error) {
	defer postgres.ClassifyOn(&err)
	res := domain.FeedVerification{From: after + 1, To: after}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, fmt.Errorf("verify feed after %d: %w", after, err)
	}
	defer tx.Rollback(context.Background())
	var head int64
	var headChain []byte
	if err := tx.QueryRow(ctx, `SELECT position, chain_hash FROM es_head WHERE id = 1`).Scan(&head, &headChain); err != nil {
		return res, fmt.Errorf("verify feed after %d: read head: %w", after, err)
	}
	res.Head = domain.Position(head)
	if after >= res.Head {
		return res, nil
	}
	anchor := ZeroHash
	if after > 0 {
		err := tx.QueryRow(ctx, `SELECT chain_hash FROM es_events WHERE global_position = $1`, int64(after)).Scan(&anchor)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Break = &domain.ChainBreak{Position: after, Reason: fmt.Sprintf(
				"position %d is missing: the page cannot be anchored because events were deleted", after)}
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("verify feed after %d: read anchor: %w", after, err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+`,
		(SELECT p.hash FROM es_events p WHERE p.stream_id = e.stream_id AND p.version = e.version - 1)
		FROM es_events e WHERE global_position > $1 ORDER BY global_position LIMIT $2`, int64(after), limit)
	if err != nil {
		return res, fmt.Errorf("verify feed after %d: %w", after, err)
	}
	v := NewVerifier()
	v.Partial, v.Contiguous = true, true
	v.lastPos, v.lastChain = after, anchor
	versions := map[domain.Position]domain.Version{}
	read := 0
	err = checkRows(rows, v, versions, func(le *LinkedEvent, extra []any) {
		read++
		res.To = le.Position
		if prev := *extra[0].(*[]byte); len(prev) > 0 && le.Version > 1 {
			le.PrevHash = hex.EncodeToString(prev)
		}
	}, new([]byte))
	if err != nil {
		return res, fmt.Errorf("verify feed after %d: %w", after, err)
	}
	res.Checked = v.Checked()
	if b := v.Break(); b != nil {
		res.Break = &domain.ChainBreak{Position: b.Position, Version: versions[b.Position], StreamID: b.StreamID, Reason: b.Reason}
		return res, nil
	}
	switch {
	case read < limit && res.To < res.Head:
		res.Break = &domain.ChainBreak{Position: res.To + 1, Reason: fmt.Sprintf(
			"the head is at position %d but the log ends at %d: events were deleted", res.Head, res.To)}
	case res.To == res.Head && !bytes.Equal(v.LastChain(), headChain):
		res.Break = &domain.ChainBreak{Position: res.Head, Reason: "the head's chain hash does not match the log's last event"}
	}
	return res, nil
}

// checkRows scans events (the event columns followed by extra columns,
// scanned into extra) and checks them in batches; link fills in what the
// extra columns say about each event's predecessors. It stops reading at the
// first break.
func checkRows(rows pgx.Rows, v *Verifier, versions map[domain.Position]domain.Version, link func(*LinkedEvent, []any), extra ...any) error {
	defer rows.Close()
	batch := make([]LinkedEvent, 0, 64)
	for rows.Next() {
		var raw []byte
		e, err := scanEventRaw(extraRow{rows, extra}, &raw)
		if err != nil {
			return err
		}
		le := LinkedEvent{StoredEvent: e, rawMeta: raw}
		link(&le, extra)
		versions[e.Position] = e.Version
		batch = append(batch, le)
		if len(batch) == verifyBatch {
			if v.Check(batch); v.Break() != nil {
				return nil
			}
			batch = batch[:0:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	v.Check(batch)
	return nil
}

// extraRow scans a row whose event columns are followed by more columns.
type extraRow struct {
	pgx.Row
	extra []any
}

func (r extraRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }
