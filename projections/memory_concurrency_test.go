package projections_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/projections"
)

// Many readers resolve while tenants change: no answer is older than one
// that completed before it began (per tenant), and every answer with a
// minPosition reflects the write at that position. Redis is projected
// alongside, a little behind, so some answers come from it.
func TestMemoryConcurrentReadersNeverGoBack(t *testing.T) {
	t.Parallel()
	const tenants, updates, readers = 6, 120, 6
	f := newMemoryFixture(t, projections.MemoryConfig{})
	start(t, f.runner(fastRunner), f.projector(nil))
	f.follow()
	type written struct {
		at      domain.Position
		version domain.Version
	}
	ids := make([]domain.TenantID, tenants)
	var mu sync.Mutex
	last := make([]written, tenants) // the latest write of each tenant
	seen := make([]atomic.Int64, tenants)
	for i := range ids {
		id, st := f.linkedTenant(fmt.Sprintf("Conc %d", i), fmt.Sprintf("conc-p%d", i), fmt.Sprintf("conc-i%d", i))
		ids[i], last[i] = id, written{f.head(), st.Version}
	}

	var done atomic.Bool
	var reads, withMin atomic.Int64
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !done.Load() {
				i := rng.IntN(tenants)
				l := lookup{by: []string{"phone", "integration", "tenant"}[rng.IntN(3)], tenant: ids[i]}
				l.id = map[string]string{"phone": fmt.Sprintf("conc-p%d", i), "integration": fmt.Sprintf("conc-i%d", i), "tenant": string(ids[i])}[l.by]
				var min domain.Position
				if rng.IntN(2) == 0 {
					mu.Lock()
					min, l.version = last[i].at, last[i].version
					mu.Unlock()
					withMin.Add(1)
				}
				floor := seen[i].Load()
				c, err := l.on(f.mem, min)
				reads.Add(1)
				if err := l.check(c, err); err != nil {
					errs <- fmt.Errorf("minPosition %d: %w", min, err)
					return
				}
				if int64(c.Version) < floor {
					errs <- fmt.Errorf("%s %s went back: v%d after v%d had been answered", l.by, l.id, c.Version, floor)
					return
				}
				for v := seen[i].Load(); int64(c.Version) > v && !seen[i].CompareAndSwap(v, int64(c.Version)); v = seen[i].Load() {
				}
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond) // leave the writer some CPU
			}
		})
	}
	for u := range updates {
		i := u % tenants
		st, p := f.write(ids[i], func(t *domain.Tenant) error {
			return t.Update(domain.UpdateTenant{Name: ptr(fmt.Sprintf("Conc %d.%d", i, u))})
		})
		mu.Lock()
		last[i] = written{p, st.Version}
		mu.Unlock()
	}
	time.Sleep(200 * time.Millisecond) // reads after the last write too
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := f.mem.Stats()
	t.Logf("%d reads (%d with minPosition), memory %+v", reads.Load(), withMin.Load(), s)
	if s.Hits == 0 || s.Invalidations == 0 {
		t.Fatalf("memory did not take part: %+v", s)
	}
}
