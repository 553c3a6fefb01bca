package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// BenchmarkRebuild100k seeds 100,000 events (2,000 tenants × 50: links,
// updates, suspensions) and rebuilds the Redis model and the PostgreSQL
// tenants table from position 0. An op is both rebuilds, so it reports no
// ns/op but, per model, the mean events/s (redis-events/s,
// tenants-events/s) and how long the tenants rebuild held appends off
// (tenants-locked-ms: from locking the head to its commit).
//
//	go test -run '^$' -bench Rebuild100k -benchtime 1x ./projections/
func BenchmarkRebuild100k(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	total := float64(seed100k(b, f))
	rdb, prefix := testenv.NewRedis(b)
	redisModel, err := projections.NewRedisTenants(rdb, f.tenants, projections.RedisConfig{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	runner := f.runner(projections.RunnerConfig{})
	var lockedAt time.Time
	src := &pausingSource{RebuildSource: f.store, whileLocked: func() { lockedAt = time.Now() }}
	var redisTook, pgTook, locked time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := runner.Rebuild(ctx, redisModel, nil); err != nil {
			b.Fatal(err)
		}
		redisTook += time.Since(start)
		start = time.Now()
		if err := f.tenants.RebuildTenants(ctx, src, nil); err != nil {
			b.Fatal(err)
		}
		pgTook += time.Since(start)
		locked += time.Since(lockedAt)
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(total*n/redisTook.Seconds(), "redis-events/s")
	b.ReportMetric(total*n/pgTook.Seconds(), "tenants-events/s")
	b.ReportMetric(locked.Seconds()*1000/n, "tenants-locked-ms")
}

// BenchmarkReplayAfterRedisLoss100k lets the Redis projector catch up with
// 100,000 events, then deletes every key of the model (a Redis restarted
// empty), and reports how long the running projector takes to notice it
// (its idle check, at most PollInterval) and to replay the model to the
// head: detect-s, replay-s and total-s.
//
//	go test -run '^$' -bench ReplayAfterRedisLoss -benchtime 1x ./projections/
func BenchmarkReplayAfterRedisLoss100k(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	seed100k(b, f)
	head := f.head()
	rdb, prefix := testenv.NewRedis(b)
	redisModel, err := projections.NewRedisTenants(rdb, f.tenants, projections.RedisConfig{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	start(b, f.runner(projections.RunnerConfig{}), redisModel)
	marker := prefix + "projection:" + projections.RedisTenantsName + ":position"
	applied := func() domain.Position {
		v, _ := rdb.Get(ctx, marker).Int64()
		return domain.Position(v)
	}
	testkit.Until(b, 5*time.Minute, "caught up", func() bool { return applied() >= head })
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
		}
		lost := time.Now()
		var detected time.Time
		for applied() < head {
			if detected.IsZero() && rdb.Exists(ctx, marker).Val() == 1 {
				detected = time.Now() // the replay wrote its first batch
			}
			time.Sleep(time.Millisecond)
		}
		done := time.Now()
		if detected.IsZero() {
			detected = done
		}
		b.ReportMetric(detected.Sub(lost).Seconds(), "detect-s")
		b.ReportMetric(done.Sub(detected).Seconds(), "replay-s")
		b.ReportMetric(done.Sub(t0).Seconds(), "total-s")
	}
}

// seed100k appends 100,000 events (2,000 tenants × 50: links, updates,
// suspensions) and returns how many.
func seed100k(b *testing.B, f *fixture) int {
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
	return tenants * perTenant
}
