package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// TenantsName names the PostgreSQL tenants read model in the operator
// commands. It has no checkpoint: appends write it in their transaction.
const TenantsName = "tenants"

// RebuildSource is what RebuildTenants needs of the event store. The event
// store's Store satisfies it. Its methods work in the caller's transaction,
// so the rebuild chooses the snapshot and keeps its work on one connection.
// Implementations must be safe for concurrent use.
type RebuildSource interface {
	// TenantVersions returns the version of every tenant stream as tx sees them.
	TenantVersions(ctx context.Context, tx pgx.Tx) (map[domain.TenantID]domain.Version, error)
	// ScanTenantEvents calls fn with every event of the tenant streams with
	// a position in (after, head], head being the last position tx sees, in
	// position order, without holding them all in memory, and returns head.
	ScanTenantEvents(ctx context.Context, tx pgx.Tx, after domain.Position, fn func(domain.StoredEvent) error) (domain.Position, error)
	// LockHead locks the head in tx, so no append commits until tx ends, and
	// returns the last committed position. The tables appends write must be
	// locked first.
	LockHead(ctx context.Context, tx pgx.Tx) (domain.Position, error)
}

// RebuildTenants recomputes the tenants table and the phone-number and
// integration claims from the log while the service serves and appends:
//
//  1. It folds every tenant's events into states in memory, reading the log
//     in position order in one snapshot.
//  2. In one transaction it folds what was appended meanwhile, copies the
//     rows into temporary shadow tables, then locks the model against
//     appends (readers are not blocked) and the event store's head, folds
//     the last events appended and rewrites the shadow rows of the tenants
//     they touched, and swaps: the live tables take the shadow's rows,
//     changing only the rows that differ.
//
// Readers see the old model until the swap commits and the new one after;
// appends wait only for the last catch-up and the swap. progress, when set,
// is told the tenants whose events are all folded and the total, and finally
// the tenants in the rebuilt model.
func (m *Tenants) RebuildTenants(ctx context.Context, src RebuildSource, progress func(done, total int64)) (err error) {
	defer postgres.ClassifyOn(&err)
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("rebuild tenants: %w", err)
	}
	defer conn.Release()
	f := newFold(progress)
	// The versions and the events from one snapshot: the versions are what
	// the scanned events end at, so progress can tell complete tenants.
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		final, err := src.TenantVersions(ctx, tx)
		if err != nil {
			return err
		}
		f.expect(final)
		f.position, err = src.ScanTenantEvents(ctx, tx, 0, f.apply)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild tenants: read the log: %w", err)
	}
	f.final = nil
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return m.writeAndSwap(ctx, tx, src, f) }); err != nil {
		return fmt.Errorf("rebuild tenants: %w", err)
	}
	n := int64(len(f.tenants))
	f.report(n, n)
	return nil
}

// writeAndSwap writes the fold into shadow tables and swaps them in, after
// folding the events appended since the fold's position.
func (m *Tenants) writeAndSwap(ctx context.Context, tx pgx.Tx, src RebuildSource, f *fold) error {
	// Catch up before writing, so the catch-up under the lock stays short.
	var err error
	if f.position, err = src.ScanTenantEvents(ctx, tx, f.position, f.apply); err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	all, err := f.rowsOf(nil)
	if err != nil {
		return err
	}
	if err := createShadow(ctx, tx); err != nil {
		return err
	}
	if err := writeShadow(ctx, tx, all); err != nil {
		return err
	}
	if err := indexShadow(ctx, tx); err != nil {
		return err
	}

	// The model, then the head: in the order appends lock them.
	if err := lockModel(ctx, tx); err != nil {
		return err
	}
	head, err := src.LockHead(ctx, tx)
	if err != nil {
		return err
	}
	f.touched = map[domain.TenantID]bool{}
	if f.position, err = src.ScanTenantEvents(ctx, tx, f.position, f.apply); err != nil {
		return fmt.Errorf("catch up under the lock: %w", err)
	}
	if f.position != head {
		return fmt.Errorf("catch up under the lock: read up to position %d, the locked head is %d", f.position, head)
	}
	if len(f.touched) > 0 {
		late, err := f.rowsOf(f.touched)
		if err != nil {
			return err
		}
		if err := rewriteShadow(ctx, tx, f.touched, late); err != nil {
			return err
		}
	}
	return swap(ctx, tx)
}
