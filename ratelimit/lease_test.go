package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A high limit is served from leases: one Redis call per lease.
func TestLeasesCutRedisCalls(t *testing.T) {
	l, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 50000, Burst: 5000} // lease size 500
	for i := 0; i < 1200; i++ {
		if d := mustAllow(t, l, "ratelimit:key:busy", lim); !d.Allowed {
			t.Fatalf("request %d refused under a limit it cannot reach", i)
		}
	}
	if n := l.RedisCalls(); n > 3 {
		t.Fatalf("%d Redis calls for 1200 requests: leases are not used", n)
	}
}

// Under overload, leases never let more through than the burst, what
// refilled and one lease per replica. Every decision must come from Redis
// (see slowMachineTimeout).
func TestLeasesKeepTheLimit(t *testing.T) {
	cfg := Config{Timeout: slowMachineTimeout}
	first, rdb, prefix := newLimiter(t, cfg)
	cfg.Prefix = prefix
	second, err := New(rdb, cfg) // two replicas sharing the bucket
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{PerSecond: 1000, Burst: 300} // lease size 10
	calls := []*Limiter{first, second}
	ctx := context.Background()
	allowed, unchecked := 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	start, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range calls {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 150; i++ {
					d, err := l.Allow(ctx, "ratelimit:key:lease", lim)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if d.Unchecked {
						unchecked++
					} else if d.Allowed {
						allowed++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if unchecked > 0 {
		t.Fatalf("%d decisions were not checked with Redis (failed open)", unchecked)
	}
	// The burst passes, plus what refilled meanwhile, plus at most one lease
	// per replica. The bucket is on Redis's clock, so the time that passed is
	// read from that clock too, with 50 ms to spare.
	end, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	refilled := int((end.Sub(start) + 50*time.Millisecond).Seconds() * float64(lim.PerSecond))
	if max := lim.Burst + 2*lim.leaseSize() + refilled; allowed < lim.Burst || allowed > max {
		t.Fatalf("allowed %d of 1200 under burst %d (at most %d)", allowed, lim.Burst, max)
	}
	raw, err := rdb.Get(ctx, prefix+"ratelimit:key:lease").Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
		t.Fatalf("bucket value %q", raw)
	}
}

func TestLeaseSize(t *testing.T) {
	for _, c := range []struct {
		l    Limit
		want int
	}{{Limit{100, 200}, 1}, {Limit{20000, 40000}, 200}, {Limit{10000, 50}, 50}, {Limit{199, 400}, 1}, {Limit{1000, 300}, 10}} {
		if got := c.l.leaseSize(); got != c.want {
			t.Fatalf("leaseSize(%+v) = %d, want %d", c.l, got, c.want)
		}
	}
}

// A refusal is remembered until its Retry-After: the requests refused in the
// meantime do not ask Redis again.
func TestRefusalIsRemembered(t *testing.T) {
	l, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 1, Burst: 1}
	if d := mustAllow(t, l, "ratelimit:key:slow", lim); !d.Allowed {
		t.Fatal("first request refused")
	}
	before := l.RedisCalls()
	for i := 0; i < 100; i++ {
		d := mustAllow(t, l, "ratelimit:key:slow", lim)
		if d.Allowed || d.RetryAfter <= 0 {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	if n := l.RedisCalls() - before; n != 1 {
		t.Fatalf("%d Redis calls for 100 refusals within a second, want 1", n)
	}
}
