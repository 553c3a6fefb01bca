package ratelimit

import (
	"context"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

// benchLimit never refuses within a benchmark run, so every call writes.
var benchLimit = Limit{PerSecond: domain.MaxRatePerSecond, Burst: domain.MaxRateBurst}

func benchLimiter(b *testing.B, direct bool) *Limiter {
	b.Helper()
	_, prefix := testenv.NewRedis(b) // cleans the prefix's keys afterwards
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.ContextTimeoutEnabled = direct
	rdb := redis.NewClient(opts)
	b.Cleanup(func() { rdb.Close() })
	l, err := New(rdb, Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAllow(b *testing.B) {
	for _, mode := range []struct {
		name   string
		direct bool
	}{{"context-timeouts", true}, {"goroutine-timeouts", false}} {
		b.Run(mode.name, func(b *testing.B) {
			l := benchLimiter(b, mode.direct)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if d, err := l.Allow(ctx, APIKey("admin:bench"), benchLimit); err != nil || !d.Allowed || d.Unchecked {
					b.Fatalf("%+v, %v", d, err)
				}
			}
		})
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := benchLimiter(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if d, err := l.Allow(ctx, Tenant(domain.TenantID("t"+strconv.Itoa(i%64))), benchLimit); err != nil || d.Unchecked {
				b.Fatalf("%+v, %v", d, err)
			}
		}
	})
}

// BenchmarkAllowRedisDown is the cost of a check while the breaker is open.
func BenchmarkAllowRedisDown(b *testing.B) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	l, err := New(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for !l.Degraded() {
		l.Allow(ctx, APIKey("admin:bench"), benchLimit)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := l.Allow(ctx, APIKey("admin:bench"), benchLimit); !d.Unchecked {
			b.Fatal("Redis asked while down")
		}
	}
}
