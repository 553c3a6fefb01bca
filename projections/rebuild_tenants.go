package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// TenantsName names the PostgreSQL tenants read model in the operator
// commands. It has no checkpoint: appends write it in their transaction.
const TenantsName = "tenants"

// StreamSource is what RebuildTenants needs of the event store. The event
// store's Store satisfies it. Implementations must be safe for concurrent use.
type StreamSource interface {
	// TenantStreams returns the id of every tenant stream.
	TenantStreams(ctx context.Context) ([]string, error)
	// WithStream runs fn in a transaction that holds the stream against
	// appends, with its tenant and events.
	WithStream(ctx context.Context, stream string, fn func(ctx context.Context, tx pgx.Tx, tenant domain.TenantID, events []domain.StoredEvent) error) error
}

// RebuildTenants recomputes every tenant row and its phone-number and
// integration claims from the tenant's events. Each tenant is rebuilt in its
// own transaction that holds its stream against appends, so the service
// keeps serving. A tenant whose claim is still held by another tenant's stale
// row is retried after the others. progress, when set, is told the tenants
// done and the total.
func (m *Tenants) RebuildTenants(ctx context.Context, src StreamSource, progress func(done, total int64)) error {
	streams, err := src.TenantStreams(ctx)
	if err != nil {
		return fmt.Errorf("rebuild tenants: %w", err)
	}
	total, done := int64(len(streams)), int64(0)
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()
	var later []string
	for _, s := range streams {
		err := m.rebuildStream(ctx, src, s)
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
		if err := m.rebuildStream(ctx, src, s); err != nil {
			return err
		}
		done++
		report()
	}
	return nil
}

// rebuildStream resets one tenant's row and claims and applies its whole
// stream. The row is blanked rather than deleted, so tables that reference
// tenants keep their rows.
func (m *Tenants) rebuildStream(ctx context.Context, src StreamSource, stream string) error {
	err := src.WithStream(ctx, stream, func(ctx context.Context, tx pgx.Tx, tenant domain.TenantID, events []domain.StoredEvent) error {
		for _, q := range []string{
			`DELETE FROM phone_number_claims WHERE tenant_id = $1`,
			`DELETE FROM integration_claims WHERE tenant_id = $1`,
			`UPDATE tenants SET state = '{}'::jsonb, version = 0 WHERE tenant_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, string(tenant)); err != nil {
				return fmt.Errorf("reset row: %w", err)
			}
		}
		if len(events) == 0 {
			return nil
		}
		if err := m.ApplyInline(ctx, tx, events); err != nil {
			return err
		}
		// An upsert keeps an existing row's created_at; take it from the first event.
		if _, err := tx.Exec(ctx, `UPDATE tenants SET created_at = $2 WHERE tenant_id = $1`,
			string(tenant), events[0].OccurredAt); err != nil {
			return fmt.Errorf("write created_at: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild tenants: %s: %w", stream, err)
	}
	return nil
}
