package client

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/client/tenantcache"
)

// offline returns a client with no connection whose cache holds n tenants
// under their tenant id, phone number and integration id, read and stored
// the way read does, and the phone numbers.
func offline(tb testing.TB, n, maxEntries int) (*Client, []string) {
	return offlineKinds(tb, n, maxEntries, tenantcache.KindTenant, tenantcache.KindPhoneNumber, tenantcache.KindIntegration)
}

// offlineKinds is offline with each tenant cached under the given kinds of
// key only.
func offlineKinds(tb testing.TB, n, maxEntries int, kinds ...tenantcache.Kind) (*Client, []string) {
	tb.Helper()
	cache, err := tenantcache.New[cached](tenantcache.Config{MaxEntries: maxEntries})
	if err != nil {
		tb.Fatal(err)
	}
	c := &Client{cache: cache}
	phones := make([]string, n)
	for i := range n {
		phones[i] = fmt.Sprintf("55119%08d", i)
		tenantID := fmt.Sprintf("9f1c%04x-%04x-4%03x-8%03x-%012x", i>>16, i&0xffff, i%4096, i%4096, i)
		ids := [...]string{tenantcache.KindTenant: tenantID, tenantcache.KindPhoneNumber: phones[i],
			tenantcache.KindIntegration: "int-" + tenantID}
		for _, kind := range kinds {
			k := tenantcache.Key{Kind: kind, ID: ids[kind]}
			// Each answer is decoded on its own: fresh strings, as
			// encoding/json makes them.
			tc := &Context{
				TenantID: strings.Clone(tenantID), Name: fmt.Sprintf("Tenant %06d Comércio Ltda", i),
				Status: strings.Clone("active"), Version: 7,
				UpdatedAt: time.Date(2026, 11, 27, 14, 2, 0, 0, time.UTC),
				WhatsApp: &WhatsApp{WabaID: fmt.Sprintf("1%014d", i), PhoneNumberID: strings.Clone(phones[i]),
					DisplayPhoneNumber: fmt.Sprintf("+55 11 9%04d-%04d", i/10000, i%10000)},
				Genesys: &Genesys{Region: strings.Clone("mypurecloud.com"), ClientID: fmt.Sprintf("c1%034d", i),
					IntegrationID: "int-" + tenantID},
				RateLimit: &RateLimit{PerSecond: 20, Burst: 40},
			}
			if prev, _ := cache.Peek(tenantcache.KindTenant, tc.TenantID); prev != nil {
				tc.share(&prev.Context)
			} else {
				tc.share(nil)
			}
			a := answer{Value: cached{*tc}, Found: true}
			k.ID = keyID(k, tc)
			if cache.Put(cache.Ticket(), k, a) != tenantcache.Stored {
				tb.Fatalf("Put %v refused", k)
			}
		}
	}
	return c, phones
}

// BenchmarkLookupHit is one ByPhoneNumber answered from memory.
func BenchmarkLookupHit(b *testing.B) {
	c, phones := offline(b, 10_000, 0)
	ctx := context.Background()
	b.ReportAllocs()
	runtime.GC()
	i := 0
	for b.Loop() {
		if _, err := c.ByPhoneNumber(ctx, phones[i%len(phones)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLookupHitNotFound is one ByPhoneNumber answered ErrNotFound from
// a negative entry.
func BenchmarkLookupHitNotFound(b *testing.B) {
	c, _ := offline(b, 10, 0)
	unknown := make([]string, 1000)
	for i := range unknown {
		unknown[i] = fmt.Sprintf("55118%08d", i)
		c.cache.Put(c.cache.Ticket(), tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: unknown[i]}, answer{})
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.ByPhoneNumber(ctx, unknown[i%len(unknown)]); err != ErrNotFound {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLookupHitParallel is ByPhoneNumber answered from memory by 8
// goroutines (RunParallel starts a multiple of GOMAXPROCS: at least 8),
// reported as lookups per second over all of them.
func BenchmarkLookupHitParallel(b *testing.B) {
	c, phones := offline(b, 10_000, 0)
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	b.ReportAllocs()
	runtime.GC() // not the set-up's garbage collected while measuring
	b.ResetTimer()
	var seed atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 7717
		for pb.Next() {
			if _, err := c.ByPhoneNumber(ctx, phones[i%len(phones)]); err != nil {
				panic(err)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
