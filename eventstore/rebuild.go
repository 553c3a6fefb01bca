package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// Bulk reads for recomputing a read model in one pass while the service
// serves. They run in the caller's transaction, so a rebuild keeps its reads,
// its work tables and its swap on one connection, and chooses what it sees:
// appends commit in position order, so a REPEATABLE READ transaction sees
// one prefix of the log, a READ COMMITTED one the prefix up to the head it
// reads, and after LockHead the whole log until it ends.

// foldColumns are what folding events into states needs: no metadata, no
// hashes, which a bulk read would only decode to drop.
const foldColumns = `global_position, event_id::text, stream_id, version, tenant_id::text, event_type,
	schema_version, data, occurred_at`

// TenantVersions returns the version of every tenant stream as tx sees them.
// Read in the same REPEATABLE READ transaction as ScanTenantEvents, the
// versions are those the scanned events end at.
func (r *Reader) TenantVersions(ctx context.Context, tx pgx.Tx) (_ map[domain.TenantID]domain.Version, err error) {
	defer postgres.ClassifyOn(&err)
	rows, err := tx.Query(ctx, `SELECT tenant_id::text, version FROM es_streams WHERE stream_id LIKE $1`,
		domain.StreamPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("read tenant versions: %w", err)
	}
	out := map[domain.TenantID]domain.Version{}
	var id string
	var version int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &version}, func() error {
		out[domain.TenantID(id)] = domain.Version(version)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read tenant versions: %w", err)
	}
	return out, nil
}

// scanPage is how many positions one query of ScanTenantEvents covers: a
// range of the primary key, whatever the planner's statistics say, small
// enough to sort in memory if the planner chooses to.
const scanPage = 10_000

// ScanTenantEvents calls fn with every event of the tenant streams with a
// position in (after, head], head being the last position tx sees, in
// position order, and returns head; it stops at fn's first error. It reads
// the range in pages of positions, decoding rows as they arrive, so neither
// the database nor the caller holds the whole log. The events carry no
// metadata and no hashes.
func (r *Reader) ScanTenantEvents(ctx context.Context, tx pgx.Tx, after domain.Position, fn func(domain.StoredEvent) error) (_ domain.Position, err error) {
	defer postgres.ClassifyOn(&err)
	var head int64
	if err := tx.QueryRow(ctx, `SELECT position FROM es_head WHERE id = 1`).Scan(&head); err != nil {
		return 0, fmt.Errorf("scan events: read head: %w", err)
	}
	for lo := int64(after); lo < head; lo += scanPage {
		if err := scanRange(ctx, tx, lo, min(lo+scanPage, head), fn); err != nil {
			return 0, err
		}
	}
	return domain.Position(max(head, int64(after))), nil
}

// scanRange calls fn with the tenant events with a position in (lo, hi].
func scanRange(ctx context.Context, tx pgx.Tx, lo, hi int64, fn func(domain.StoredEvent) error) error {
	rows, err := tx.Query(ctx, `SELECT `+foldColumns+` FROM es_events
		WHERE global_position > $1 AND global_position <= $2 AND stream_id LIKE $3 ORDER BY global_position`,
		lo, hi, domain.StreamPrefix+"%")
	if err != nil {
		return fmt.Errorf("scan events %d..%d: %w", lo+1, hi, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e domain.StoredEvent
		var pos, version int64
		var tenant string
		var data []byte // not json.RawMessage, which pgx would validate as JSON
		if err := rows.Scan(&pos, &e.EventID, &e.StreamID, &version, &tenant, &e.Type, &e.SchemaVersion,
			&data, &e.OccurredAt); err != nil {
			return fmt.Errorf("scan events %d..%d: %w", lo+1, hi, err)
		}
		e.Position, e.Version, e.TenantID, e.Data = domain.Position(pos), domain.Version(version), domain.TenantID(tenant), data
		e.OccurredAt = e.OccurredAt.UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan events %d..%d: %w", lo+1, hi, err)
	}
	return nil
}

// LockHead locks the head row in tx and returns the position of the last
// committed event: no append commits until tx ends, and every event up to
// the position is visible to tx's later statements (under READ COMMITTED).
// Readers of the log are not blocked.
//
// Appends take the locks of their inline projections (the read-model rows
// they write) before the head, just before commit. A caller that writes
// those tables must lock them before calling LockHead, in a mode that keeps
// appends out (LOCK TABLE ... IN EXCLUSIVE MODE), or it deadlocks with an
// append that holds a row it needs and waits for the head.
func (s *Store) LockHead(ctx context.Context, tx pgx.Tx) (_ domain.Position, err error) {
	defer postgres.ClassifyOn(&err)
	var p int64
	if err := tx.QueryRow(ctx, `SELECT position FROM es_head WHERE id = 1 FOR UPDATE`).Scan(&p); err != nil {
		return 0, fmt.Errorf("lock head: %w", err)
	}
	return domain.Position(p), nil
}
