package tenantcache

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchValue is a value of 120 bytes, like the client's tenant context.
type benchValue struct {
	tenant  string
	version int64
	rest    [12]int64
}

func (v benchValue) TenantVersion() (string, int64) { return v.tenant, v.version }

// filled returns a cache holding n tenants, each under its tenant id and one
// phone number, and the phone number keys.
func filled(b *testing.B, n int) (*Cache[benchValue], []string) {
	c, err := New[benchValue](Config{})
	if err != nil {
		b.Fatal(err)
	}
	phones := make([]string, n)
	for i := range n {
		id := strconv.Itoa(1000000 + i)
		phones[i] = "5511" + strconv.Itoa(900000000+i*7919)
		a := Answer[benchValue]{Value: benchValue{tenant: id, version: 1}, Found: true}
		c.Put(c.Ticket(), Key{KindTenant, id}, a)
		c.Put(c.Ticket(), Key{KindPhoneNumber, phones[i]}, a)
	}
	return c, phones
}

// BenchmarkGetHit is one cached lookup.
func BenchmarkGetHit(b *testing.B) {
	c, phones := filled(b, 10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, st := c.Get(KindPhoneNumber, phones[i%len(phones)]); st != Fresh {
			b.Fatal("miss")
		}
		i++
	}
}

// BenchmarkGetHitParallel is cached lookups from 8 goroutines (at least 8:
// RunParallel starts a multiple of GOMAXPROCS), reported as lookups per
// second.
func BenchmarkGetHitParallel(b *testing.B) {
	c, phones := filled(b, 10_000)
	b.ReportAllocs()
	b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	runtime.GC() // not the set-up's garbage collected while measuring
	b.ResetTimer()
	var seed atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 7717
		for pb.Next() {
			if _, st := c.Get(KindPhoneNumber, phones[i%len(phones)]); st != Fresh {
				panic("miss")
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
