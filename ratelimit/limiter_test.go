package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
)

func TestBurstThenRefusal(t *testing.T) {
	t.Parallel()
	l, rdb, prefix := newLimiter(t, Config{})
	lim := Limit{PerSecond: 1, Burst: 5}
	key := APIKey("admin:0123abcd")

	for i := range lim.Burst {
		d := mustAllow(t, l, key, lim)
		if !d.Allowed {
			t.Fatalf("request %d of the burst refused: %+v", i+1, d)
		}
		if want := lim.Burst - i - 1; d.Remaining != want {
			t.Errorf("request %d: remaining %d, want %d", i+1, d.Remaining, want)
		}
		if d.Limit != lim || d.Unchecked {
			t.Errorf("request %d: limit %+v unchecked %v", i+1, d.Limit, d.Unchecked)
		}
	}
	d := mustAllow(t, l, key, lim)
	if d.Allowed {
		t.Fatalf("request past the burst allowed: %+v", d)
	}
	// One token comes back per second; the burst took well under half of it.
	if d.RetryAfter <= 500*time.Millisecond || d.RetryAfter > time.Second {
		t.Errorf("retry after %v, want just under 1s", d.RetryAfter)
	}
	if d.RetryAfterSeconds() != 1 {
		t.Errorf("retry after seconds %d, want 1", d.RetryAfterSeconds())
	}
	if d.Remaining != 0 {
		t.Errorf("remaining %d after refusal, want 0", d.Remaining)
	}
	if d.ResetAfter <= 4*time.Second || d.ResetAfter > 5*time.Second {
		t.Errorf("reset after %v, want just under 5s", d.ResetAfter)
	}
	if kind := domain.KindOf(d.Err()); kind != domain.KindRateLimited {
		t.Errorf("refusal error kind %v, want KindRateLimited", kind)
	}

	// The bucket's key expires once the bucket would be full again.
	ttl, err := rdb.PTTL(context.Background(), prefix+key).Result()
	if err != nil {
		t.Fatalf("pttl: %v", err)
	}
	if ttl <= 0 || ttl > 5*time.Second+10*time.Millisecond {
		t.Errorf("bucket key ttl %v, want (0, 5s]", ttl)
	}
}

func TestRefill(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 10, Burst: 2}
	key := Tenant("tenant-refill")

	for range lim.Burst {
		if d := mustAllow(t, l, key, lim); !d.Allowed {
			t.Fatalf("burst request refused: %+v", d)
		}
	}
	d := mustAllow(t, l, key, lim)
	if d.Allowed {
		t.Fatalf("request past the burst allowed: %+v", d)
	}
	if d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("retry after %v, want (0, 100ms] at 10/s", d.RetryAfter)
	}
	time.Sleep(d.RetryAfter + 50*time.Millisecond)
	if d := mustAllow(t, l, key, lim); !d.Allowed {
		t.Fatalf("request after waiting the retry-after refused: %+v", d)
	}
	// A long quiet spell refills the whole burst, no more.
	time.Sleep(300 * time.Millisecond)
	allowed := 0
	for range lim.Burst + 3 {
		if mustAllow(t, l, key, lim).Allowed {
			allowed++
		}
	}
	if allowed < lim.Burst || allowed > lim.Burst+1 {
		t.Errorf("after refilling, %d allowed in a row, want the burst of %d", allowed, lim.Burst)
	}
}

func TestIndependentBuckets(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 1, Burst: 3}
	a, b := APIKey("service:aaaa0000"), APIKey("service:bbbb1111")
	sameID := Tenant("service:aaaa0000") // same suffix, other kind of bucket

	for range lim.Burst {
		mustAllow(t, l, a, lim)
	}
	if d := mustAllow(t, l, a, lim); d.Allowed {
		t.Fatalf("key a past its burst allowed")
	}
	for _, key := range []string{b, sameID} {
		d := mustAllow(t, l, key, lim)
		if !d.Allowed || d.Remaining != lim.Burst-1 {
			t.Errorf("%s affected by another bucket: %+v", key, d)
		}
	}
}

func TestOtherPrefixIsIndependent(t *testing.T) {
	t.Parallel()
	l1, _, _ := newLimiter(t, Config{})
	l2, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 1, Burst: 1}
	key := APIKey("admin:cafe0000")
	mustAllow(t, l1, key, lim)
	if d := mustAllow(t, l2, key, lim); !d.Allowed {
		t.Fatalf("a deployment with another prefix shares the bucket: %+v", d)
	}
}

func TestConcurrentCallersNeverExceedBurst(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, Config{})
	lim := Limit{PerSecond: 1, Burst: 20}
	key := Tenant("tenant-concurrent")

	var mu sync.Mutex
	allowed := 0
	start := time.Now()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 10 {
				d, err := l.Allow(context.Background(), key, lim)
				if err != nil {
					t.Errorf("allow: %v", err)
					return
				}
				if d.Unchecked {
					t.Errorf("check skipped under load: %+v", d)
				}
				if d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// Tokens come back at 1/s: every whole second the run took may add one.
	refilled := int(time.Since(start) / time.Second)
	if allowed < lim.Burst || allowed > lim.Burst+refilled {
		t.Fatalf("%d of 500 concurrent requests allowed in %v, want %d (+%d refilled)",
			allowed, time.Since(start), lim.Burst, refilled)
	}
}

func TestLimitChangeTakesEffect(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, Config{})
	key := Tenant("tenant-change")
	small := Limit{PerSecond: 1, Burst: 3}
	for range small.Burst {
		mustAllow(t, l, key, small)
	}
	if d := mustAllow(t, l, key, small); d.Allowed {
		t.Fatalf("past the small burst allowed")
	}

	// Raised: the bucket holds the new burst less what was used.
	large := Limit{PerSecond: 1, Burst: 10}
	allowed := 0
	for range large.Burst {
		if mustAllow(t, l, key, large).Allowed {
			allowed++
		}
	}
	if allowed < large.Burst-small.Burst || allowed > large.Burst-small.Burst+1 {
		t.Errorf("after raising the burst to %d, %d more allowed, want %d", large.Burst, allowed, large.Burst-small.Burst)
	}

	// Lowered below what was used: refused until the debt drains.
	if d := mustAllow(t, l, key, small); d.Allowed || d.RetryAfter < 5*time.Second {
		t.Errorf("after lowering the burst: %+v, want refused for several seconds", d)
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l, rdb, prefix := newLimiter(t, Config{})
	key := Tenant("tenant-unlimited")
	for range 5 {
		if d := mustAllow(t, l, key, Limit{}); !d.Allowed || d.Unchecked {
			t.Fatalf("unlimited refused or unchecked: %+v", d)
		}
	}
	if n, err := rdb.Exists(context.Background(), prefix+key).Result(); err != nil || n != 0 {
		t.Fatalf("unlimited check wrote a key (exists %d, err %v)", n, err)
	}
}

func TestAllowTenantAndKey(t *testing.T) {
	t.Parallel()
	l, rdb, prefix := newLimiter(t, Config{
		KeyLimit:    Limit{PerSecond: 1, Burst: 4},
		RoleLimits:  map[string]Limit{"service": {PerSecond: 1, Burst: 7}},
		TenantLimit: Limit{PerSecond: 1, Burst: 2},
	})
	ctx := context.Background()

	count := func(check func() (Decision, error)) int {
		n := 0
		for range 12 {
			d, err := check()
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if d.Allowed {
				n++
			}
		}
		return n
	}
	cases := []struct {
		name  string
		check func() (Decision, error)
		want  int
		key   string
	}{
		{"own tenant limit", func() (Decision, error) {
			return l.AllowTenant(ctx, "t-own", &domain.RateLimit{PerSecond: 1, Burst: 5})
		}, 5, KeyTenant + "t-own"},
		{"default tenant limit", func() (Decision, error) { return l.AllowTenant(ctx, "t-default", nil) }, 2, KeyTenant + "t-default"},
		{"role limit", func() (Decision, error) { return l.AllowKey(ctx, "service:11112222", "service") }, 7, KeyAPIKey + "service:11112222"},
		{"default key limit", func() (Decision, error) { return l.AllowKey(ctx, "auditor:33334444", "auditor") }, 4, KeyAPIKey + "auditor:33334444"},
	}
	for _, c := range cases {
		if got := count(c.check); got != c.want {
			t.Errorf("%s: %d of 12 allowed, want %d", c.name, got, c.want)
		}
		if n, err := rdb.Exists(ctx, prefix+c.key).Result(); err != nil || n != 1 {
			t.Errorf("%s: key %s not written (exists %d, err %v)", c.name, c.key, n, err)
		}
	}
}
