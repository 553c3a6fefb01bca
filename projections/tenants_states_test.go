package projections_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
	"tenant-service/projections"
)

// The Redis projector loads the states of each batch's tenants by id. A
// plan PostgreSQL cached while the table was small (a sequential scan) must
// not be used once it has grown: that made every batch read the whole
// table, costing more with every tenant created.
func TestStatesDoNotKeepAPlanFromASmallTable(t *testing.T) {
	// One session: the one whose cached plans are checked.
	pool := testenv.NewPool(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 1 })
	ctx := context.Background()
	insert := func(n int) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO tenants (tenant_id, name, status, version, created_at, updated_at, state)
			SELECT id, 'n', 'active', 1, now(), now(), jsonb_build_object('tenantId', id)
			FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $1)) g`, n); err != nil {
			t.Fatal(err)
		}
	}
	someIDs := func() []domain.TenantID {
		t.Helper()
		rows, _ := pool.Query(ctx, `SELECT tenant_id::text FROM tenants ORDER BY random() LIMIT 3`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[domain.TenantID])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	seqScans := func() int64 {
		t.Helper()
		var n int64
		if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'tenants'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tenants := projections.NewTenants(pool)
	insert(3)
	for range 10 { // enough executions for PostgreSQL to settle on a cached plan
		if got, err := tenants.States(ctx, someIDs()); err != nil || len(got) != 3 {
			t.Fatalf("States = %d states, %v; want 3", len(got), err)
		}
	}
	insert(20000)
	ids := someIDs()
	before := seqScans()
	got, err := tenants.States(ctx, ids)
	if err != nil || len(got) != 3 {
		t.Fatalf("States = %d states, %v; want 3", len(got), err)
	}
	if after := seqScans(); after != before {
		t.Errorf("States read the 20,003-row table sequentially (%d scans); want a lookup by id", after-before)
	}
}
