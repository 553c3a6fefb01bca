package eventstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// BenchmarkAppend measures single-event appends to fresh streams from
// parallel writers (each append is one transaction with the inline read model).
func BenchmarkAppend(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := domain.NewTenantID()
			if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
				Events: []domain.Event{created(id, "bench")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkReadAll measures reading the global feed in pages of 500.
func BenchmarkReadAll(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	const total = 5000
	for i := 0; i < total/10; i++ {
		id := domain.NewTenantID()
		evs := []domain.Event{created(id, "bench")}
		for j := 0; j < 9; j++ {
			evs = append(evs, domain.TenantSuspended{Reason: "bench"})
		}
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	var read atomic.Int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var after domain.Position
		for {
			evs, err := s.ReadFrom(ctx, after, 500)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			read.Add(int64(len(evs)))
			after = evs[len(evs)-1].Position
		}
	}
	b.ReportMetric(float64(read.Load())/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify measures `events verify` over a 30,000-event log.
func BenchmarkVerify(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		id := domain.NewTenantID()
		evs := []domain.Event{created(id, "bench")}
		for j := 0; j < 29; j++ {
			evs = append(evs, domain.TenantUpdated{ExternalRef: ptrTo("ref-" + string(rune('a'+j%26)))})
		}
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: evs,
			Metadata: domain.Metadata{Actor: "admin:bench", RequestID: "req"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var checked int64
	for i := 0; i < b.N; i++ {
		res, err := s.Verify(ctx, nil)
		if err != nil || res.Break != nil {
			b.Fatal(err, res.Break)
		}
		checked += res.Checked
	}
	b.ReportMetric(float64(checked)/b.Elapsed().Seconds(), "events/s")
}

func ptrTo[T any](v T) *T { return &v }

// BenchmarkReplay10k measures rebuilding a 10,000-event tenant for ?asOf=,
// in the worst case for snapshots: just before the next one is due (the
// nearest snapshot is 499 versions back).
func BenchmarkReplay10k(b *testing.B) {
	s, _ := newStore(b)
	repo := eventstore.NewRepository(s, nil)
	ctx := context.Background()
	id := domain.NewTenantID()
	evs := []domain.Event{created(id, "long")}
	for j := 1; j < 10000; j++ {
		if j%2 == 1 {
			evs = append(evs, domain.TenantSuspended{Reason: "flip"})
		} else {
			evs = append(evs, domain.TenantReactivated{})
		}
	}
	for i := 0; i < len(evs); i += 100 {
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, ExpectedVersion: domain.Version(i),
			Events: evs[i:min(i+100, len(evs))]}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := repo.LoadAt(ctx, id, 9999, time.Now())
		if err != nil || t.State().Version != 9999 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/replay")
}
