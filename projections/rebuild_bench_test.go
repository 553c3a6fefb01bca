package projections_test

import (
	"context"
	"fmt"
	"testing"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testenv"
	"tenant-service/projections"
)

// BenchmarkRebuild100k seeds 100,000 events (2,000 tenants × 50: links,
// updates, suspensions) and rebuilds the Redis model and the PostgreSQL
// tenants table from position 0, reporting events/s for each.
//
//	go test -run '^$' -bench Rebuild100k -benchtime 1x ./projections/
func BenchmarkRebuild100k(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	const tenants, perTenant = 2000, 50
	for i := 0; i < tenants; i++ {
		id := domain.NewTenantID()
		evs := []domain.Event{domain.TenantCreated{TenantID: id, Name: fmt.Sprint("bench ", i)}}
		for j := 1; j < perTenant; j++ {
			switch j % 5 {
			case 0:
				evs = append(evs, domain.WABALinked{WABAID: fmt.Sprint("w", i), PhoneNumberID: fmt.Sprintf("p%d-%d", i, j), Source: "manual"})
			case 1:
				evs = append(evs, domain.TenantSuspended{})
			case 2:
				evs = append(evs, domain.TenantReactivated{})
			default:
				name := fmt.Sprintf("bench %d v%d", i, j)
				evs = append(evs, domain.TenantUpdated{Name: &name})
			}
		}
		if _, err := f.store.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	rdb, prefix := testenv.NewRedis(b)
	redisModel, err := projections.NewRedisTenants(rdb, f.tenants, projections.RedisConfig{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	runner := f.runner(projections.RunnerConfig{})
	total := float64(tenants * perTenant)
	b.ResetTimer()
	for b.Loop() {
		start := b.Elapsed()
		if err := runner.Rebuild(ctx, redisModel, nil); err != nil {
			b.Fatal(err)
		}
		redisTook := b.Elapsed() - start
		start = b.Elapsed()
		if err := projections.RebuildTenants(ctx, f.pool, nil); err != nil {
			b.Fatal(err)
		}
		pgTook := b.Elapsed() - start
		b.ReportMetric(total/redisTook.Seconds(), "redis-events/s")
		b.ReportMetric(total/pgTook.Seconds(), "tenants-events/s")
	}
}
