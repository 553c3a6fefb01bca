package eventstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

const eventColumns = `global_position, event_id::text, stream_id, version, tenant_id::text, event_type,
	schema_version, data, metadata, occurred_at, hash, chain_hash`

// Filter narrows a read of the global feed; see domain.EventFilter.
type Filter = domain.EventFilter

// ReadAll returns up to limit events with positions above after, in position order.
func (s *Reader) ReadAll(ctx context.Context, after domain.Position, limit int, f Filter) (_ []domain.StoredEvent, err error) {
	defer postgres.ClassifyOn(&err)
	var args postgres.Args
	where := []string{"global_position > " + args.Add(int64(after))}
	if f.TenantID != "" {
		where = append(where, "tenant_id = "+args.Add(string(f.TenantID)))
	}
	if len(f.Types) > 0 {
		where = append(where, "event_type = ANY("+args.Add(f.Types)+")")
	}
	if f.Actor != "" {
		where = append(where, "metadata->>'actor' = "+args.Add(f.Actor))
	}
	if !f.From.IsZero() {
		where = append(where, "occurred_at >= "+args.Add(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "occurred_at < "+args.Add(f.To))
	}
	q := fmt.Sprintf(`SELECT %s FROM es_events WHERE %s ORDER BY global_position LIMIT %s`,
		eventColumns, strings.Join(where, " AND "), args.Add(limit))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read all after %d: %w", after, err)
	}
	return collectEvents(rows)
}

// CommittedAt returns when the event at pos was committed (the zero time
// when there is none).
func (s *Reader) CommittedAt(ctx context.Context, pos domain.Position) (_ time.Time, err error) {
	defer postgres.ClassifyOn(&err)
	var at time.Time
	err = s.pool.QueryRow(ctx, `SELECT committed_at FROM es_events WHERE global_position = $1`, int64(pos)).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time of %d: %w", pos, err)
	}
	return at, nil
}

// ReadStream returns up to limit events of the stream with versions above
// after, in version order. A limit of 0 or less reads to the end.
func (s *Reader) ReadStream(ctx context.Context, streamID string, after domain.Version, limit int) (_ []domain.StoredEvent, err error) {
	defer postgres.ClassifyOn(&err)
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM es_events
		WHERE stream_id = $1 AND version > $2 ORDER BY version LIMIT $3`, streamID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return collectEvents(rows)
}

// ReadStreamUntil returns the stream's events after version after, up to and
// including version upTo (0: no bound), that occurred at or before asOf
// (zero: no bound).
func (s *Reader) ReadStreamUntil(ctx context.Context, streamID string, after, upTo domain.Version, asOf time.Time) ([]domain.StoredEvent, error) {
	var args postgres.Args
	q := `SELECT ` + eventColumns + ` FROM es_events WHERE stream_id = ` + args.Add(streamID) + ` AND version > ` + args.Add(int64(after))
	if upTo > 0 {
		q += " AND version <= " + args.Add(int64(upTo))
	}
	if !asOf.IsZero() {
		q += " AND occurred_at <= " + args.Add(asOf)
	}
	rows, err := s.pool.Query(ctx, q+" ORDER BY version", args...)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return collectEvents(rows)
}

// HeadPosition returns the position of the last committed event (0 when empty).
func (s *Reader) HeadPosition(ctx context.Context) (_ domain.Position, err error) {
	defer postgres.ClassifyOn(&err)
	var p int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM es_head WHERE id = 1`).Scan(&p); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	return domain.Position(p), nil
}

// StreamVersion returns the stream's current version (0 when it does not exist).
func (s *Reader) StreamVersion(ctx context.Context, streamID string) (domain.Version, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM es_streams WHERE stream_id = $1`, streamID).Scan(&v)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read version of %s: %w", streamID, err)
	}
	return domain.Version(v), nil
}

func collectEvents(rows pgx.Rows) ([]domain.StoredEvent, error) {
	defer rows.Close()
	var out []domain.StoredEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

func scanEvent(row pgx.Row) (domain.StoredEvent, error) {
	return scanEventRaw(row, nil)
}

// scanEventRaw scans an event and, when rawMeta is not nil, keeps its
// metadata as stored.
func scanEventRaw(row pgx.Row, rawMeta *[]byte) (domain.StoredEvent, error) {
	var e domain.StoredEvent
	var pos, version int64
	var tenant string
	var meta []byte
	var hash, chain []byte
	if err := row.Scan(&pos, &e.EventID, &e.StreamID, &version, &tenant, &e.Type, &e.SchemaVersion,
		&e.Data, &meta, &e.OccurredAt, &hash, &chain); err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	e.Position, e.Version, e.TenantID = domain.Position(pos), domain.Version(version), domain.TenantID(tenant)
	e.OccurredAt = e.OccurredAt.UTC()
	e.Hash, e.ChainHash = hex.EncodeToString(hash), hex.EncodeToString(chain)
	if err := json.Unmarshal(meta, &e.Metadata); err != nil {
		return e, fmt.Errorf("scan event %d metadata: %w", pos, err)
	}
	if rawMeta != nil {
		*rawMeta = meta
	}
	return e, nil
}

// ReadFrom returns up to limit events with positions above after, in position
// order: the feed projectors and the relay follow.
func (s *Reader) ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error) {
	return s.ReadAll(ctx, after, limit, Filter{})
}
