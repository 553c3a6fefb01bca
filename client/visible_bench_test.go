package client_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"tenant-service/client/internal/servicetest"
)

// BenchmarkAnsweredToVisible measures, over 500 changes, the time from the
// service's answer to a command (PATCH /api/tenants/:id) to the first
// lookup through the client that answers the new version: relay, broker,
// the client's invalidation and its re-read together. It reports the
// median, p99 and worst case in milliseconds. Run it alone:
//
//	go test -run '^$' -bench AnsweredToVisible -benchtime 1x
func BenchmarkAnsweredToVisible(b *testing.B) {
	const changes = 500
	svc := servicetest.Start(b)
	c := newClient(b, svc)
	a := svc.CreateTenant("bench")
	const phone = "5511944440001"
	svc.LinkNumber(a.TenantID, "waba-bench", phone)
	waitApplied(b, c, svc)
	eventually(b, within, resolvesTo(c.ByPhoneNumber, phone, a.TenantID, "bench"))

	lat := make([]time.Duration, 0, changes)
	for b.Loop() {
		lat = lat[:0]
		for i := range changes {
			version := svc.Rename(a.TenantID, fmt.Sprint("bench ", i))
			answered := time.Now()
			for {
				tc, err := c.ByPhoneNumber(bg(), phone)
				if err != nil {
					b.Fatal(err)
				}
				if tc.Version >= version {
					break
				}
				time.Sleep(50 * time.Microsecond)
			}
			lat = append(lat, time.Since(answered))
		}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
	s := c.Stats()
	b.Logf("%d changes: p50 %s, p99 %s, max %s; hits %d, misses %d, invalidations %d",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], s.Hits, s.Misses, s.Invalidations)
}
