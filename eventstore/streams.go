package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// TenantStreams returns the id of every tenant stream, in order.
func (s *Store) TenantStreams(ctx context.Context) (_ []string, err error) {
	defer postgres.ClassifyOn(&err)
	rows, err := s.pool.Query(ctx, `SELECT stream_id FROM es_streams WHERE stream_id LIKE $1 ORDER BY stream_id`,
		domain.StreamPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return ids, nil
}

// WithStream runs fn in a transaction that holds the stream against appends
// (its es_streams row locked), with the stream's tenant and every event, so
// a read model of that stream can be recomputed while the service serves.
func (s *Store) WithStream(ctx context.Context, stream string, fn func(ctx context.Context, tx pgx.Tx, tenant domain.TenantID, events []domain.StoredEvent) error) (err error) {
	defer postgres.ClassifyOn(&err)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var tenant string
		if err := tx.QueryRow(ctx, `SELECT tenant_id::text FROM es_streams WHERE stream_id = $1 FOR UPDATE`, stream).
			Scan(&tenant); err != nil {
			return fmt.Errorf("lock stream %s: %w", stream, err)
		}
		rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM es_events WHERE stream_id = $1 ORDER BY version`, stream)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		events, err := collectEvents(rows)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		return fn(ctx, tx, domain.TenantID(tenant), events)
	})
}
