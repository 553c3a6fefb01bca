package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// The resolve benchmarks start the whole app behind a real HTTP server on
// 127.0.0.1, link many phone numbers, warm up, and then run a load generator
// calling GET /api/resolve/whatsapp/:id over the linked numbers on
// RESOLVE_BENCH_CLIENTS keep-alive connections (default 32) for
// RESOLVE_BENCH_DURATION (default 5s), twice:
//
//   - closed: each connection sends its next request as soon as the answer
//     came: the throughput the machine saturates at, and the latency at
//     that saturation (mostly queueing);
//   - open: the connections together send RESOLVE_BENCH_RATE requests a
//     second (default 5000) on a fixed schedule, and latency counts from
//     when a request was due, so a stall is not hidden by the requests it
//     delayed (no coordinated omission): the latency at that load.
//
// One iteration is one whole load run; run them with -benchtime 1x:
//
//	go test -run '^$' -bench Resolve -benchtime 1x ./cmd/tenant-service/
//
// They report req/s and p50/p99/p99.9 latency in ms as the client saw it,
// the CPU time per request of this process (server and load generator)
// and of the Redis server (which other tests may be using at the same time),
// and the share of lookups the replica's memory answered (mem-hit-%).
// Client, server, Redis and PostgreSQL share the machine's cores.
// RESOLVE_BENCH_CPUPROFILE=file writes a CPU profile of the load runs only.
const (
	benchTenants          = 400
	benchNumbersPerTenant = 3
	benchSeedKeys         = 8 // admin keys seeding in parallel, each with its own rate limit
)

// BenchmarkResolveByPhone resolves with the service as configured by
// default: after the warm-up the replica's memory answers.
func BenchmarkResolveByPhone(b *testing.B) { benchmarkResolve(b, benchSetup{}) }

// BenchmarkResolveByPhoneMemoryOff is BenchmarkResolveByPhone with
// RESOLVE_CACHE_ENTRIES=0: every answer comes from Redis.
func BenchmarkResolveByPhoneMemoryOff(b *testing.B) { benchmarkResolve(b, benchSetup{memoryOff: true}) }

// BenchmarkResolveByPhoneMinPosition is BenchmarkResolveByPhone with
// ?minPosition= the head after seeding on every request, as a consumer
// re-reading on a message sends it: memory answers, having applied it.
func BenchmarkResolveByPhoneMinPosition(b *testing.B) {
	benchmarkResolve(b, benchSetup{minPosition: true})
}

// BenchmarkResolveByPhoneMinPositionMemoryOff is the same with the memory
// off: Redis answers after reading its applied position in the same round
// trip.
func BenchmarkResolveByPhoneMinPositionMemoryOff(b *testing.B) {
	benchmarkResolve(b, benchSetup{minPosition: true, memoryOff: true})
}

// BenchmarkResolveByPhoneRedisDown resolves with REDIS_URL pointing at a
// closed port and the memory off: every answer comes from PostgreSQL.
func BenchmarkResolveByPhoneRedisDown(b *testing.B) {
	benchmarkResolve(b, benchSetup{redisDown: true, memoryOff: true})
}

// benchSetup is how a resolve benchmark runs the service.
type benchSetup struct {
	redisDown   bool // REDIS_URL points at a closed port
	memoryOff   bool // RESOLVE_CACHE_ENTRIES=0
	minPosition bool // every request asks for ?minPosition= the head after seeding
	traced      bool // tracing on, exporting to a receiver that drops the spans
}

// benchApp starts the app (with Redis unreachable when redisDown), links
// the numbers and waits until the Redis model has them all. It returns the
// app, the resolve paths and a client on the test Redis (nil when
// redisDown) that deletes the keys at the end.
func benchApp(b *testing.B, setup benchSetup) (*testApp, []string, *redis.Client) {
	b.Helper()
	env := testEnv(b)
	if setup.memoryOff {
		env["RESOLVE_CACHE_ENTRIES"] = "0"
	}
	// Above the default 20,000/s (perf.sh sets 100000:100000), so that the
	// service key's bucket does not run dry: then every request asks Redis
	// for a token, and that is what would be measured.
	env["SERVICE_KEY_RATE_LIMIT"] = fmt.Sprintf("%d:%d", domain.MaxRatePerSecond, domain.MaxRateBurst)
	seedKeys := make([]string, benchSeedKeys)
	for i := range seedKeys {
		seedKeys[i] = fmt.Sprintf("bench-seed-admin-key-%02d-0123456789", i)
		env["API_KEYS"] += ",admin:" + seedKeys[i]
	}
	if setup.traced {
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		b.Cleanup(sink.Close)
		otelEnv(b, env, sink.URL, "http/protobuf")
	}
	rdb := leakRedis(b, env["REDIS_URL"], env["REDIS_KEY_PREFIX"])
	if setup.redisDown {
		env["REDIS_URL"] = "redis://" + closedAddr(b)
		rdb = nil
	}
	a := startApp(b, env)
	phones := seedNumbers(b, a.srv.URL, seedKeys)
	if !setup.redisDown {
		waitForRedisModel(b, a)
	}
	paths := make([]string, len(phones))
	for i, p := range phones {
		paths[i] = "/api/resolve/whatsapp/" + p
	}
	return a, paths, rdb
}

func benchmarkResolve(b *testing.B, setup benchSetup) {
	clients := benchEnvInt(b, "RESOLVE_BENCH_CLIENTS", 32)
	rate := benchEnvInt(b, "RESOLVE_BENCH_RATE", 5000)
	duration := benchEnvDuration(b, "RESOLVE_BENCH_DURATION", 5*time.Second)
	a, paths, rdb := benchApp(b, setup)
	if setup.minPosition {
		_, head, _ := progress(b, a.app.pool, projections.RedisTenantsName)
		for i := range paths {
			paths[i] += "?minPosition=" + strconv.FormatInt(head, 10)
		}
	}
	// Warm up: every number once (fills Redis on a miss, warms pools and caches).
	if res := runLoad(a.srv.URL, paths, 8, 0, 0, len(paths)); res.failures > 0 {
		b.Fatalf("warm-up: %d of %d failed, first: %s", res.failures, res.requests, res.firstFailure)
	}
	if path := os.Getenv("RESOLVE_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b.Run(fmt.Sprintf("closed-%dclients", clients), func(b *testing.B) {
		reportLoad(b, a, len(paths), rdb, func() loadResult { return runLoad(a.srv.URL, paths, clients, 0, duration, 0) })
	})
	b.Run(fmt.Sprintf("open-%drps", rate), func(b *testing.B) {
		reportLoad(b, a, len(paths), rdb, func() loadResult { return runLoad(a.srv.URL, paths, clients, rate, duration, 0) })
	})
}

// BenchmarkResolveByPhoneInProcess calls the app's handler directly, one
// request at a time, without HTTP or the load generator: the server's own
// CPU time and allocations per resolve (memory warm), for attributing costs.
func BenchmarkResolveByPhoneInProcess(b *testing.B) { benchmarkResolveInProcess(b, benchSetup{}) }

// BenchmarkResolveByPhoneInProcessTraced is the same with tracing on: the
// server span of every resolve, sampled and exported (over OTLP/HTTP to a
// receiver in process that drops them).
func BenchmarkResolveByPhoneInProcessTraced(b *testing.B) {
	benchmarkResolveInProcess(b, benchSetup{traced: true})
}

// BenchmarkResolveByPhoneInProcessMemoryOff is the same with the memory
// off (Redis warm).
func BenchmarkResolveByPhoneInProcessMemoryOff(b *testing.B) {
	benchmarkResolveInProcess(b, benchSetup{memoryOff: true})
}

func benchmarkResolveInProcess(b *testing.B, setup benchSetup) {
	a, paths, _ := benchApp(b, setup)
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		reqs[i] = httptest.NewRequest("GET", p, nil)
		reqs[i].Header.Set("Authorization", "Bearer "+serviceKey)
	}
	serve := func(r *http.Request) {
		w := httptest.NewRecorder()
		a.app.Handler().ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", r.URL.Path, w.Code, w.Body)
		}
	}
	for _, r := range reqs {
		serve(r)
	}
	b.ReportAllocs()
	mem0 := memoryStats(a)
	cpu0, i := processCPU(), 0
	for b.Loop() {
		serve(reqs[i%len(reqs)])
		i++
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
	reportMemoryHits(b, a, mem0)
}

// memoryStats returns the app's resolve memory counters (zero when off).
func memoryStats(a *testApp) projections.MemoryStats {
	if a.app.memory == nil {
		return projections.MemoryStats{}
	}
	return a.app.memory.Stats()
}

// reportMemoryHits reports the share of lookups since before the memory
// answered, and fails a benchmark that means to measure the memory when it
// answered almost none.
func reportMemoryHits(b *testing.B, a *testApp, before projections.MemoryStats) {
	after := memoryStats(a)
	hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
	if hits+misses == 0 {
		b.ReportMetric(0, "mem-hit-%")
		return
	}
	share := 100 * float64(hits) / float64(hits+misses)
	b.ReportMetric(share, "mem-hit-%")
	if share < 90 {
		b.Errorf("memory answered %.1f%% of the lookups: the benchmark does not measure it", share)
	}
}

// reportLoad runs the load b.N times and reports the last run, with the CPU
// time this process (server and load generator) and, when rdb is not nil,
// the Redis server spent per request, and the share the memory answered.
func reportLoad(b *testing.B, a *testApp, numbers int, rdb *redis.Client, run func() loadResult) {
	var res loadResult
	var cpu, redisCPU time.Duration
	var mem0 projections.MemoryStats
	for range b.N {
		cpu0, redis0 := processCPU(), redisServerCPU(rdb)
		mem0 = memoryStats(a)
		res = run()
		cpu, redisCPU = processCPU()-cpu0, redisServerCPU(rdb)-redis0
	}
	reportMemoryHits(b, a, mem0)
	if res.requests > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(res.requests), "proc-cpu-µs/req")
		if rdb != nil {
			b.ReportMetric(float64(redisCPU.Microseconds())/float64(res.requests), "redis-cpu-µs/req")
		}
	}
	if res.failures > 0 {
		b.Errorf("%d of %d requests failed, first: %s", res.failures, res.requests, res.firstFailure)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(res.requests)/res.elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(res.percentile(0.50)), "p50-ms")
	b.ReportMetric(ms(res.percentile(0.99)), "p99-ms")
	b.ReportMetric(ms(res.percentile(0.999)), "p99.9-ms")
	b.Logf("%d numbers of %d tenants, %s: %d requests, %d failed, max %.2f ms",
		numbers, benchTenants, res.elapsed.Round(time.Millisecond), res.requests, res.failures, ms(res.max()))
}

// processCPU returns the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisServerCPU returns the Redis server's CPU time so far (INFO cpu), or 0.
func redisServerCPU(rdb *redis.Client) time.Duration {
	if rdb == nil {
		return 0
	}
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			v, _ := strconv.ParseFloat(value, 64)
			total += v
		}
	}
	return time.Duration(total * float64(time.Second))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchEnvInt(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", name, v)
		}
		return n
	}
	return def
}

func benchEnvDuration(b *testing.B, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("%s=%q: want a duration such as 5s", name, v)
		}
		return d
	}
	return def
}

// closedAddr returns an address on 127.0.0.1 where nothing listens.
func closedAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// seedNumbers creates benchTenants tenants with benchNumbersPerTenant
// numbers each through the API, one admin key per worker, and returns the
// phone number ids.
func seedNumbers(b *testing.B, base string, keys []string) []string {
	b.Helper()
	var mu sync.Mutex
	var phones []string
	var g errgroup.Group
	for w, key := range keys {
		g.Go(func() error {
			for t := w; t < benchTenants; t += len(keys) {
				status, body, err := benchRequest(base, "POST", "/api/tenants", key, fmt.Sprintf(`{"name":"Bench %d"}`, t))
				if err != nil || status != 201 {
					return fmt.Errorf("create tenant: %d %s %v", status, body, err)
				}
				id := between(body, `"tenantId":"`, `"`)
				for n := range benchNumbersPerTenant {
					phone := strconv.Itoa(10_000_000 + t*1000 + n)
					link := fmt.Sprintf(`{"wabaId":"%d","phoneNumberId":"%s","displayPhoneNumber":"+1 555 %s"}`, 900000+t, phone, phone)
					status, body, err := benchRequest(base, "POST", "/api/tenants/"+id+"/whatsapp", key, link)
					if err != nil || status != 201 {
						return fmt.Errorf("link %s: %d %s %v", phone, status, body, err)
					}
					mu.Lock()
					phones = append(phones, phone)
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return phones
}

// benchRequest sends one request, waiting out 429s (Retry-After).
func benchRequest(base, method, path, key, body string) (int, string, error) {
	for {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(secs, 1)) * 100 * time.Millisecond)
			continue
		}
		return res.StatusCode, string(raw), nil
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// waitForRedisModel waits until the Redis projector applied every event, so
// the load finds every number in Redis.
func waitForRedisModel(b *testing.B, a *testApp) {
	b.Helper()
	testkit.Eventually(b, 60*time.Second, func() error {
		pos, head, lastErr := progress(b, a.app.pool, projections.RedisTenantsName)
		if pos >= head {
			return nil
		}
		return fmt.Errorf("redis model at %d of %d (%s)", pos, head, lastErr)
	})
}
