package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

func TestRebuildMatchesIncrementalProjection(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	r := f.runner(fastRunner)
	proj := f.projector(nil)
	start(t, r, proj)
	w := &workload{f: f, rng: rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))}
	for f.head() < 500 {
		w.step()
	}
	head := f.head()
	testkit.Until(t, 30*time.Second, "incremental projection caught up", func() bool {
		return status(t, r, projections.RedisTenantsName).Position == head
	})
	incrementalRedis, incrementalPG := f.dumpRedis(), f.dumpPG()
	if err := diffMaps(incrementalRedis, f.expectedRedis(w.all)); err != nil {
		t.Fatalf("incremental Redis model differs from the PostgreSQL states: %v", err)
	}
	for _, id := range w.all { // the PostgreSQL model against a replay of the aggregate
		agg, err := f.repo.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		row, err := f.tenants.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(agg.State())
		b, _ := json.Marshal(row)
		if string(a) != string(b) {
			t.Fatalf("tenant %s row differs from its replayed events:\n%s\n%s", id, b, a)
		}
	}

	// Damage both models, then rebuild them while a leader keeps running.
	ctx := context.Background()
	victim := w.live[0]
	mustExec(t, f, `UPDATE tenants SET name = 'damaged', state = jsonb_set(state, '{name}', '"damaged"') WHERE tenant_id = $1`, victim)
	mustExec(t, f, `DELETE FROM phone_number_claims WHERE ctid = (SELECT ctid FROM phone_number_claims LIMIT 1)`)
	f.rdb.Set(ctx, f.prefix+projections.KeyTenantPhone+"bogus", `{"tenantId":"x","version":1}`, 0)
	f.rdb.Set(ctx, f.keys.Tenant(victim), `{"tenantId":"`+string(victim)+`","version":100000}`, 0)
	if slices.Equal(f.dumpPG(), incrementalPG) {
		t.Fatal("damaging PostgreSQL changed nothing")
	}

	var pgProgress progressLog
	if err := f.tenants.RebuildTenants(ctx, f.store, pgProgress.report); err != nil {
		t.Fatal(err)
	}
	if got, want := pgProgress.last(), int64(len(w.all)); got != [2]int64{want, want} {
		t.Fatalf("tenants rebuild progress ended at %v, want %d of %d", got, want, want)
	}
	if got := f.dumpPG(); !slices.Equal(got, incrementalPG) {
		t.Fatalf("rebuilt PostgreSQL model differs from the incremental one (%d vs %d rows)", len(got), len(incrementalPG))
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := f.runner(fastRunner).Rebuild(rctx, f.projector(nil), nil); err != nil {
		t.Fatal(err)
	}
	if err := diffMaps(f.dumpRedis(), incrementalRedis); err != nil {
		t.Fatalf("rebuilt Redis model differs from the incremental one: %v", err)
	}
}

func TestRebuildTenantsWhileServing(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	w := &workload{f: f, rng: rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))}
	for len(w.all) < 40 {
		w.step()
	}
	// Writers keep going while the rebuild runs; none of their events may be lost.
	done := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		defer close(writeErr)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			id := w.live[i%len(w.live)]
			name := fmt.Sprintf("concurrent %d", i)
			if _, err := f.repo.Execute(context.Background(), id, testWrite, func(t *domain.Tenant) error {
				return t.Update(domain.UpdateTenant{Name: &name})
			}); err != nil && !errors.Is(err, domain.ErrTenantDeleted) {
				writeErr <- err
				return
			}
		}
	}()
	for range 3 {
		if err := f.tenants.RebuildTenants(context.Background(), f.store, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	for _, id := range w.all {
		agg, err := f.repo.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		row, err := f.tenants.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(agg.State())
		b, _ := json.Marshal(row)
		if string(a) != string(b) {
			t.Fatalf("tenant %s row differs from its events after a rebuild under load:\n%s\n%s", id, b, a)
		}
	}
}

func mustExec(t *testing.T, f *redisFixture, q string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}
