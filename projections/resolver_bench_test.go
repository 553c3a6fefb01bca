package projections_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"tenant-service/internal/testenv"
	"tenant-service/projections"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// BenchmarkResolveByPhone resolves a phone number whose key is warm in
// Redis, with a client that honours context deadlines (as production should
// create it) and with a default client (a goroutine per call enforces the
// timeout), against a plain GET for reference.
func BenchmarkResolveByPhone(b *testing.B) {
	f := newRedisFixture(b)
	_, _ = f.linkedTenant("Bench", "bench-p1", "bench-i1")
	ctx := context.Background()
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	timed := redis.NewClient(opts)
	defer timed.Close()
	for _, c := range []struct {
		name string
		rdb  redis.UniversalClient
	}{{"ContextTimeoutEnabled", timed}, {"DefaultClient", f.rdb}} {
		res := projections.NewResolver(c.rdb, f.prefix, f.tenants, nil)
		if _, err := decoded(res.ByPhoneNumber(ctx, "bench-p1", 0)); err != nil { // warms the key
			b.Fatal(err)
		}
		if !f.exists(f.keys.Phone("bench-p1")) {
			b.Fatal("key not warm")
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := decoded(res.ByPhoneNumber(ctx, "bench-p1", 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("PlainRedisGET", func(b *testing.B) {
		for b.Loop() {
			if err := timed.Get(ctx, f.keys.Phone("bench-p1")).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResolveByPhoneRedisDown resolves from PostgreSQL with Redis
// unreachable (the breaker open).
func BenchmarkResolveByPhoneRedisDown(b *testing.B) {
	f := newRedisFixture(b)
	_, _ = f.linkedTenant("Bench", "bench-p2", "bench-i2")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer dead.Close()
	res := projections.NewResolver(dead, f.prefix, f.tenants, nil)
	ctx := context.Background()
	for b.Loop() {
		if _, err := decoded(res.ByPhoneNumber(ctx, "bench-p2", 0)); err != nil {
			b.Fatal(err)
		}
	}
}
