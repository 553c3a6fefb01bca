package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testkit"
	"tenant-service/messaging"
	"tenant-service/projections"
)

// The fault rig: replicas of the service on one database, Redis prefix and
// exchange, reaching the dependencies a fault row names through TCP proxies,
// a workload of commands retried with Idempotency-Keys until they succeed,
// and the checks a row lists. faults_test.go holds the table.

// dep is a dependency a fault is injected into.
type dep string

const (
	depPostgres dep = "postgres"
	depRedis    dep = "redis"
	depRabbitMQ dep = "rabbitmq"
)

// envVar is the variable that points the service at the dependency.
func (d dep) envVar() string {
	return map[dep]string{depPostgres: "DATABASE_URL", depRedis: "REDIS_URL", depRabbitMQ: "AMQP_URL"}[d]
}

// replica is one instance of the service: in this process, or a separate
// process (for kill -9).
type replica struct {
	name string
	base string
	app  *testApp // in-process
	stop func()   // in-process: shut it down
	proc *service // a process
	port int
	env  map[string]string
	pg   *tcpproxy.Proxy // its own proxy to PostgreSQL, when it has one
}

// rig is the world a fault row runs in.
type rig struct {
	t     *testing.T
	env   map[string]string
	tap   *eventTap
	pool  *pgxpool.Pool
	rdb   redis.UniversalClient
	keys  projections.Keys
	proxy map[dep]*tcpproxy.Proxy
	reps  []*replica
	load  *workload

	headAtInject int64
	backup       []dumped // a copy of Redis, for the restored-copy row
	leaderPID    int      // the relay leader's backend before the fault
	takeoverAt   time.Time
	confirmedAt  uint64 // the old leader's confirmed count at the takeover
}

// newRig starts the row's replicas with a tap bound to the exchange.
func newRig(t *testing.T, f fault) *rig {
	t.Helper()
	env := testEnv(t)
	env["API_KEY_RATE_LIMIT"], env["SERVICE_KEY_RATE_LIMIT"] = "100000:100000", "100000:100000"
	r := &rig{t: t, env: env, tap: bindTap(t, env), pool: openPool(t, env), proxy: map[dep]*tcpproxy.Proxy{}}
	r.rdb, r.keys = redisFor(t, env)
	for _, d := range f.via {
		p, via := proxyURL(t, env[d.envVar()])
		r.proxy[d], env[d.envVar()] = p, via
	}
	for i := range max(f.replicas, 1) {
		rep := &replica{name: fmt.Sprintf("replica-%d", i), env: cloneEnv(env)}
		if i == 0 && f.leaderPartition {
			var via string
			rep.pg, via = proxyURL(t, env["DATABASE_URL"])
			rep.env["DATABASE_URL"] = via
		}
		r.start(rep, f.process)
		r.reps = append(r.reps, rep)
		if i == 0 {
			// The first replica leads both projectors before any other starts.
			testkit.Eventually(t, 30*time.Second, func() error {
				if !leaderHeld(t, r.pool, messaging.RelayName) || !leaderHeld(t, r.pool, projections.RedisTenantsName) {
					return errorf("the first replica does not lead yet")
				}
				return nil
			})
		}
	}
	r.load = &workload{r: r}
	return r
}

func cloneEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	return out
}

// start runs the replica: in this process, or as a process on a fixed port.
func (r *rig) start(rep *replica, process bool) {
	r.t.Helper()
	if process {
		if rep.port == 0 { // a restart keeps the port, so the workload's base URL stays
			rep.port = freePort(r.t)
			rep.base = fmt.Sprintf("http://127.0.0.1:%d", rep.port)
		}
		rep.proc = runService(r.t, rep.env, rep.port)
		return
	}
	rep.app, rep.stop = startStoppable(r.t, rep.env)
	rep.base = rep.app.srv.URL
}

// attempt is one HTTP request of the workload.
type attempt struct {
	phase  string
	status int // 0: no answer
	took   time.Duration
	err    string
}

// workload sends tenants' commands, each retried with its Idempotency-Key
// until it succeeds, so every command takes effect exactly once however the
// service fails meanwhile.
type workload struct {
	r        *rig
	mu       sync.Mutex
	attempts []attempt
	acked    atomic.Int64
	next     atomic.Int64 // tenant numbers
}

// tenants runs the script of n new tenants, four at a time, against the
// replicas in targets (round robin), and returns the first failure.
func (w *workload) tenants(ctx context.Context, phase string, n int, targets []*replica) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for range n {
		num := w.next.Add(1)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := w.script(ctx, phase, num, targets); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// script is one tenant's life: created, two numbers linked, renamed, one
// number unlinked, and then renamed again or (every fourth) deleted.
func (w *workload) script(ctx context.Context, phase string, n int64, targets []*replica) error {
	created, err := w.send(ctx, phase, targets, n, "POST", "/api/tenants", fmt.Sprintf(`{"name":"fault %d"}`, n), "create")
	if err != nil {
		return err
	}
	id, _ := created["tenantId"].(string)
	steps := []struct{ method, path, body, key string }{
		{"POST", "/api/tenants/" + id + "/whatsapp", fmt.Sprintf(`{"wabaId":"9%d","phoneNumberId":"5%d1"}`, n, n), "link1"},
		{"PATCH", "/api/tenants/" + id, fmt.Sprintf(`{"name":"fault %d renamed"}`, n), "rename1"},
		{"POST", "/api/tenants/" + id + "/whatsapp", fmt.Sprintf(`{"wabaId":"9%d","phoneNumberId":"5%d2"}`, n, n), "link2"},
		{"DELETE", fmt.Sprintf("/api/tenants/%s/whatsapp/5%d1", id, n), "", "unlink1"},
	}
	if n%4 == 0 {
		steps = append(steps, struct{ method, path, body, key string }{"DELETE", "/api/tenants/" + id, "", "delete"})
	} else {
		steps = append(steps, struct{ method, path, body, key string }{"PATCH", "/api/tenants/" + id, fmt.Sprintf(`{"name":"fault %d final"}`, n), "rename2"})
	}
	for _, s := range steps {
		if _, err := w.send(ctx, phase, targets, n, s.method, s.path, s.body, s.key); err != nil {
			return err
		}
	}
	return nil
}

var faultClient = &http.Client{Timeout: 30 * time.Second}

// send retries one command until it is answered with 2xx.
func (w *workload) send(ctx context.Context, phase string, targets []*replica, n int64, method, path, body, key string) (map[string]any, error) {
	for i := 0; ; i++ {
		rep := targets[(int(n)+i)%len(targets)]
		req, _ := http.NewRequestWithContext(ctx, method, rep.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("fault-%d-%s", n, key))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		res, err := faultClient.Do(req)
		a := attempt{phase: phase, took: time.Since(start)}
		var out map[string]any
		if err != nil {
			a.err = err.Error()
		} else {
			a.status = res.StatusCode
			_ = json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
		}
		w.mu.Lock()
		w.attempts = append(w.attempts, a)
		w.mu.Unlock()
		if a.status/100 == 2 {
			w.acked.Add(1)
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s (tenant %d) never succeeded: last %d %s %v", method, path, n, a.status, a.err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attemptsOf returns the attempts of a phase.
func (w *workload) attemptsOf(phase string) []attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []attempt
	for _, a := range w.attempts {
		if a.phase == phase {
			out = append(out, a)
		}
	}
	return out
}

// converged checks, waiting a bounded time, that the relay and the Redis
// projector are at the head without an error, every committed event reached
// the queue (in commit order per tenant, every header right), and the Redis
// model equals the PostgreSQL one: every live tenant at its version, no
// deleted tenant, and every phone-number key pointing at the number's owner.
func (r *rig) converged() map[string]int {
	t := r.t
	t.Helper()
	testkit.Eventually(t, 90*time.Second, func() error {
		for _, p := range []string{messaging.RelayName, projections.RedisTenantsName} {
			if cp, head, lastErr := progress(t, r.pool, p); cp != head || lastErr != "" {
				return errorf("%s at %d of %d, last error %q", p, cp, head, lastErr)
			}
		}
		return nil
	})
	events := committedEvents(t, r.pool)
	r.tap.waitAll(t, 60*time.Second, events)
	copies := checkDelivered(t, r.tap.deliveries(), events)
	testkit.Eventually(t, 30*time.Second, r.redisMatchesPostgres)
	return copies
}

// redisMatchesPostgres compares the Redis model with the tenants table and
// the phone-number claims.
func (r *rig) redisMatchesPostgres() error {
	ctx := context.Background()
	rows, err := r.pool.Query(ctx, `SELECT tenant_id::text, status, version FROM tenants`)
	if err != nil {
		return err
	}
	type row struct {
		id, status string
		version    int64
	}
	var tenants []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.status, &x.version); err != nil {
			rows.Close()
			return err
		}
		tenants = append(tenants, x)
	}
	rows.Close()
	for _, x := range tenants {
		raw, err := r.rdb.Get(ctx, r.keys.Tenant(domainID(x.id))).Bytes()
		switch {
		case x.status == "deleted" && err != redis.Nil:
			return errorf("deleted tenant %s still in Redis", x.id)
		case x.status != "deleted" && err != nil:
			return errorf("tenant %s missing from Redis: %v", x.id, err)
		case x.status != "deleted":
			var c projections.Context
			if json.Unmarshal(raw, &c) != nil || int64(c.Version) != x.version {
				return errorf("tenant %s in Redis at version %d, in PostgreSQL at %d", x.id, c.Version, x.version)
			}
		}
	}
	claims := map[string]string{}
	crows, err := r.pool.Query(ctx, `SELECT phone_number_id, tenant_id::text FROM phone_number_claims`)
	if err != nil {
		return err
	}
	for crows.Next() {
		var phone, owner string
		if err := crows.Scan(&phone, &owner); err != nil {
			crows.Close()
			return err
		}
		claims[phone] = owner
	}
	crows.Close()
	seen := 0
	iter := r.rdb.Scan(ctx, 0, r.env["REDIS_KEY_PREFIX"]+projections.KeyTenantPhone+"*", 1000).Iterator()
	for iter.Next(ctx) {
		phone := strings.TrimPrefix(iter.Val(), r.env["REDIS_KEY_PREFIX"]+projections.KeyTenantPhone)
		var c projections.Context
		raw, err := r.rdb.Get(ctx, iter.Val()).Bytes()
		if err != nil || json.Unmarshal(raw, &c) != nil {
			continue // expired or removed meanwhile
		}
		if claims[phone] != string(c.TenantID) {
			return errorf("Redis resolves %s to %s, PostgreSQL to %q", phone, c.TenantID, claims[phone])
		}
		seen++
	}
	if seen != len(claims) {
		return errorf("Redis holds %d of %d claimed numbers", seen, len(claims))
	}
	return nil
}

// relayLeaderPID returns the backend process holding the relay's lock (0: none).
func (r *rig) relayLeaderPID() int {
	r.t.Helper()
	key := projections.LockKey(messaging.RelayName)
	var pid int
	err := r.pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
		AND granted AND classid::bigint = $1 AND objid::bigint = $2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&pid)
	if err != nil {
		return 0
	}
	return pid
}
