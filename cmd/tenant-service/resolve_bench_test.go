package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

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
// and the CPU time per request of this process (server and load generator)
// and of the Redis server (which other tests may be using at the same time).
// Client, server, Redis and PostgreSQL share the machine's cores.
// RESOLVE_BENCH_CPUPROFILE=file writes a CPU profile of the load runs only.
const (
	benchTenants          = 400
	benchNumbersPerTenant = 3
	benchSeedKeys         = 8 // admin keys seeding in parallel, each with its own rate limit
)

func BenchmarkResolveByPhone(b *testing.B) { benchmarkResolve(b, false) }

// BenchmarkResolveByPhoneRedisDown resolves with REDIS_URL pointing at a
// closed port: every answer comes from PostgreSQL.
func BenchmarkResolveByPhoneRedisDown(b *testing.B) { benchmarkResolve(b, true) }

// benchApp starts the app (with Redis unreachable when redisDown), links
// the numbers and waits until the Redis model has them all. It returns the
// app, the resolve paths and a client on the test Redis (nil when
// redisDown) that deletes the keys at the end.
func benchApp(b *testing.B, redisDown bool) (*testApp, []string, *redis.Client) {
	b.Helper()
	env := testEnv(b)
	seedKeys := make([]string, benchSeedKeys)
	for i := range seedKeys {
		seedKeys[i] = fmt.Sprintf("bench-seed-admin-key-%02d-0123456789", i)
		env["API_KEYS"] += ",admin:" + seedKeys[i]
	}
	rdb := leakRedis(b, env["REDIS_URL"], env["REDIS_KEY_PREFIX"])
	if redisDown {
		env["REDIS_URL"] = "redis://" + closedAddr(b)
		rdb = nil
	}
	a := startApp(b, env)
	phones := seedNumbers(b, a.srv.URL, seedKeys)
	if !redisDown {
		waitForRedisModel(b, a)
	}
	paths := make([]string, len(phones))
	for i, p := range phones {
		paths[i] = "/api/resolve/whatsapp/" + p
	}
	return a, paths, rdb
}

func benchmarkResolve(b *testing.B, redisDown bool) {
	clients := benchEnvInt(b, "RESOLVE_BENCH_CLIENTS", 32)
	rate := benchEnvInt(b, "RESOLVE_BENCH_RATE", 5000)
	duration := benchEnvDuration(b, "RESOLVE_BENCH_DURATION", 5*time.Second)
	a, paths, rdb := benchApp(b, redisDown)
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
		reportLoad(b, len(paths), rdb, func() loadResult { return runLoad(a.srv.URL, paths, clients, 0, duration, 0) })
	})
	b.Run(fmt.Sprintf("open-%drps", rate), func(b *testing.B) {
		reportLoad(b, len(paths), rdb, func() loadResult { return runLoad(a.srv.URL, paths, clients, rate, duration, 0) })
	})
}

// BenchmarkResolveByPhoneInProcess calls the app's handler directly, one
// request at a time, without HTTP or the load generator: the server's own
// CPU time and allocations per resolve (Redis warm), for attributing costs.
func BenchmarkResolveByPhoneInProcess(b *testing.B) {
	a, paths, _ := benchApp(b, false)
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		reqs[i] = httptest.NewRequest("GET", p, nil)
		reqs[i].Header.Set("Authorization", "Bearer "+serviceKey)
	}
	serve := func(r *http.Request) {
		w := httptest.NewRecorder()
		a.app.handler.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", r.URL.Path, w.Code, w.Body)
		}
	}
	for _, r := range reqs {
		serve(r)
	}
	b.ReportAllocs()
	cpu0, i := processCPU(), 0
	for b.Loop() {
		serve(reqs[i%len(reqs)])
		i++
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}

// reportLoad runs the load b.N times and reports the last run, with the CPU
// time this process (server and load generator) and, when rdb is not nil,
// the Redis server spent per request.
func reportLoad(b *testing.B, numbers int, rdb *redis.Client, run func() loadResult) {
	var res loadResult
	var cpu, redisCPU time.Duration
	for range b.N {
		cpu0, redis0 := processCPU(), redisServerCPU(rdb)
		res = run()
		cpu, redisCPU = processCPU()-cpu0, redisServerCPU(rdb)-redis0
	}
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		var head, pos int64
		err := a.app.pool.QueryRow(context.Background(), `SELECT h.position, COALESCE(c.position, 0) FROM es_head h
			LEFT JOIN es_checkpoints c ON c.subscriber = $1`, projections.RedisTenantsName).Scan(&head, &pos)
		if err == nil && pos >= head {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("redis model at %d of %d after 60s (%v)", pos, head, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadResult is what one load run measured.
type loadResult struct {
	requests, failures int
	firstFailure       string
	elapsed            time.Duration
	latencies          []time.Duration // sorted
}

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r loadResult) max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1]
}

// runLoad is the load generator: clients connections to the server, each
// sending one request at a time (HTTP/1.1 keep-alive) over paths, spread so
// that clients ask for different numbers. With rate 0 each connection sends
// as soon as it has its answer; otherwise the connections together send rate
// requests a second on a fixed schedule and latency counts from when a
// request was due. It runs for d, or, when d is 0, until count requests were
// sent in all. Requests are written and answers parsed by hand, which costs
// the shared CPU far less than net/http's client.
func runLoad(base string, paths []string, clients, rate int, d time.Duration, count int) loadResult {
	addr := strings.TrimPrefix(base, "http://")
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + serviceKey +
			"\r\nUser-Agent: resolve-bench\r\nAccept: application/json\r\n\r\n")
	}
	var pace time.Duration // between two requests of one connection
	if rate > 0 {
		pace = time.Duration(float64(time.Second) * float64(clients) / float64(rate))
	}
	results := make([]loadResult, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			n := 0
			if count > 0 {
				n = count / clients
				if w < count%clients {
					n++
				}
			}
			lc := loadClient{addr: addr, reqs: reqs, offset: w * len(reqs) / clients, deadline: start.Add(d), n: n,
				pace: pace, first: start.Add(pace * time.Duration(w) / time.Duration(clients))}
			results[w] = lc.run()
		})
	}
	wg.Wait()
	var total loadResult
	total.elapsed = time.Since(start)
	for _, r := range results {
		total.requests += r.requests
		total.failures += r.failures
		if total.firstFailure == "" {
			total.firstFailure = r.firstFailure
		}
		total.latencies = append(total.latencies, r.latencies...)
	}
	slices.Sort(total.latencies)
	return total
}

// loadClient is one connection of the load generator.
type loadClient struct {
	addr     string
	reqs     [][]byte
	offset   int
	deadline time.Time     // when n is 0
	n        int           // requests to send; 0: until the deadline
	pace     time.Duration // 0: closed loop; else the schedule's step
	first    time.Time     // when the first scheduled request is due

	conn net.Conn
	br   *bufio.Reader
	res  loadResult
}

func (c *loadClient) fail(msg string) {
	c.res.failures++
	if c.res.firstFailure == "" {
		c.res.firstFailure = msg
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// run sends requests on one connection, reconnecting after an error.
func (c *loadClient) run() loadResult {
	c.res.latencies = make([]time.Duration, 0, 1<<15)
	for i := 0; c.n == 0 || i < c.n; i++ {
		t0 := time.Now()
		if c.pace > 0 {
			due := c.first.Add(c.pace * time.Duration(i))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			t0 = due
		}
		if c.n == 0 && time.Now().After(c.deadline) {
			break
		}
		if c.conn == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				c.fail(err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
		}
		c.res.requests++
		if _, err := c.conn.Write(c.reqs[(c.offset+i)%len(c.reqs)]); err != nil {
			c.fail(err.Error())
			continue
		}
		status, err := readResponse(c.br)
		c.res.latencies = append(c.res.latencies, time.Since(t0))
		if err != nil {
			c.fail(err.Error())
		} else if status != 200 {
			c.fail("status " + strconv.Itoa(status))
		}
	}
	if c.conn != nil {
		c.conn.Close()
	}
	return c.res
}

var contentLength = []byte("Content-Length:")

// readResponse reads one HTTP/1.1 response with a Content-Length body (what
// net/http sends for a small JSON answer) and returns its status.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || string(line[:5]) != "HTTP/" {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > len(contentLength) && bytes.EqualFold(h[:len(contentLength)], contentLength) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(h[len(contentLength):])))
			if err != nil {
				return 0, fmt.Errorf("bad content length %q", h)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
