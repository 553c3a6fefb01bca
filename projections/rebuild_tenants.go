package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
)

// TenantsName names the PostgreSQL tenants read model in the operator
// commands. It has no checkpoint: appends write it in their transaction.
const TenantsName = "tenants"

// RebuildTenants recomputes every tenant row and its phone-number and
// integration claims from the tenant's events. Each tenant is rebuilt in its
// own transaction that holds the stream's es_streams row FOR UPDATE, so an
// append to that tenant waits for it and the service keeps serving. A tenant
// whose claim is still held by another tenant's stale row is retried after
// the others. progress, when set, is told the tenants done and the total.
func RebuildTenants(ctx context.Context, pool *pgxpool.Pool, progress func(done, total int64)) error {
	rows, err := pool.Query(ctx, `SELECT stream_id FROM es_streams WHERE stream_id LIKE $1 ORDER BY stream_id`,
		domain.StreamPrefix+"%")
	if err != nil {
		return fmt.Errorf("rebuild tenants: list streams: %w", err)
	}
	streams, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("rebuild tenants: list streams: %w", err)
	}
	m := NewTenants(pool)
	total, done := int64(len(streams)), int64(0)
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()
	var later []string
	for _, s := range streams {
		err := rebuildStream(ctx, pool, m, s)
		var claim *ClaimError
		switch {
		case errors.As(err, &claim):
			later = append(later, s)
			continue
		case err != nil:
			return err
		}
		done++
		report()
	}
	for _, s := range later {
		if err := rebuildStream(ctx, pool, m, s); err != nil {
			return err
		}
		done++
		report()
	}
	return nil
}

// rebuildStream resets one tenant's row and claims and applies its whole
// stream, in one transaction that locks the stream against appends. The row
// is blanked rather than deleted, so tables that reference tenants keep
// their rows.
func rebuildStream(ctx context.Context, pool *pgxpool.Pool, m *Tenants, stream string) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var tenant string
		if err := tx.QueryRow(ctx, `SELECT tenant_id::text FROM es_streams WHERE stream_id = $1 FOR UPDATE`, stream).
			Scan(&tenant); err != nil {
			return fmt.Errorf("lock stream: %w", err)
		}
		for _, q := range []string{
			`DELETE FROM phone_number_claims WHERE tenant_id = $1`,
			`DELETE FROM integration_claims WHERE tenant_id = $1`,
			`UPDATE tenants SET state = '{}'::jsonb, version = 0 WHERE tenant_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, tenant); err != nil {
				return fmt.Errorf("reset row: %w", err)
			}
		}
		events, err := readStreamTx(ctx, tx, stream)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if err := m.ApplyInline(ctx, tx, events); err != nil {
			return err
		}
		// An upsert keeps an existing row's created_at; take it from the first event.
		if _, err := tx.Exec(ctx, `UPDATE tenants SET created_at = $2 WHERE tenant_id = $1`,
			tenant, events[0].OccurredAt); err != nil {
			return fmt.Errorf("write created_at: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild tenants: %s: %w", stream, err)
	}
	return nil
}

// readStreamTx reads a stream's events inside tx, with the fields the
// tenants projection needs.
func readStreamTx(ctx context.Context, tx pgx.Tx, stream string) ([]domain.StoredEvent, error) {
	rows, err := tx.Query(ctx, `SELECT event_id::text, stream_id, version, tenant_id::text, event_type,
		schema_version, data, occurred_at FROM es_events WHERE stream_id = $1 ORDER BY version`, stream)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.StoredEvent, error) {
		var e domain.StoredEvent
		var version int64
		var tenant string
		err := row.Scan(&e.EventID, &e.StreamID, &version, &tenant, &e.Type, &e.SchemaVersion, &e.Data, &e.OccurredAt)
		e.Version, e.TenantID, e.OccurredAt = domain.Version(version), domain.TenantID(tenant), e.OccurredAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	return events, nil
}
