package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
)

// BenchmarkCreateTenant is the write path end to end: CREATE_BENCH_CLIENTS
// (default 8) connections each POST /api/tenants one after another for
// CREATE_BENCH_DURATION (default 5s) against the whole service (group
// commit, inline read model, the Redis projector, the relay and the
// follower all running). It reports creates/s, p50 and p99 in ms, and how
// many appends a group commit held on average.
//
//	go test -run '^$' -bench CreateTenant -benchtime 1x ./cmd/tenant-service/
func BenchmarkCreateTenant(b *testing.B) {
	clients := benchEnvInt(b, "CREATE_BENCH_CLIENTS", 8)
	duration := benchEnvDuration(b, "CREATE_BENCH_DURATION", 5*time.Second)
	env := testEnv(b)
	env["API_KEY_RATE_LIMIT"] = fmt.Sprintf("%d:%d", domain.MaxRatePerSecond, domain.MaxRateBurst)
	a := startApp(b, env)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	create := func(name string) (time.Duration, error) {
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/tenants", strings.NewReader(`{"name":"`+name+`"}`))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return 0, fmt.Errorf("create: %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	for i := range 50 { // warm-up: connections, prepared statements
		if _, err := create(fmt.Sprint("warm-", i)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		groups0, appends0 := a.app.store.GroupStats()
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			wg.Go(func() {
				var mine []time.Duration
				for i := 0; time.Since(start) < duration; i++ {
					d, err := create(fmt.Sprintf("bench-%d-%d", c, i))
					if err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, d)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		groups, appends := a.app.store.GroupStats()
		slices.Sort(lat)
		at := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "creates/s")
		b.ReportMetric(at(0.50), "p50-ms")
		b.ReportMetric(at(0.99), "p99-ms")
		b.ReportMetric(float64(appends-appends0)/float64(max(groups-groups0, 1)), "appends/group")
	}
}
