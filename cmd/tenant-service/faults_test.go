package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testkit"
	"tenant-service/messaging"
	"tenant-service/projections"
)

// fault is one row of TestFaults: a fault injected while tenants change,
// and what must hold while it lasts and after it healed. Every row also
// checks, after healing, that nothing was lost or doubled: every committed
// event reached the queue in commit order per tenant, the relay and the
// Redis projector are at the head, and the Redis model equals PostgreSQL's.
type fault struct {
	name string
	// via: the dependencies every replica reaches through a TCP proxy.
	via []dep
	// replicas: how many instances run (default 1); process: as separate
	// processes of the built binary instead of in this process.
	replicas int
	process  bool
	// leaderPartition: the first replica (the leader) reaches PostgreSQL
	// through a proxy of its own, and commands go to the others only.
	// (The rows that stop the leader use it to keep commands off it.)
	leaderPartition bool
	// blocking: commands cannot succeed during the fault; they are sent in
	// the background and succeed (retried) after healing.
	blocking bool
	inject   func(r *rig)
	heal     func(r *rig)
	during   []func(r *rig) // checks while the fault lasts
	after    []func(r *rig, copies map[string]int)
}

var faults = []fault{
	{name: "broker stall", via: []dep{depRabbitMQ}, inject: pause(depRabbitMQ), heal: resume(depRabbitMQ),
		during: []func(*rig){commandsSucceed, relayFallsBehind, nothingPublishedAfterInject}},
	{name: "broker cut", via: []dep{depRabbitMQ}, inject: cut(depRabbitMQ), heal: restore(depRabbitMQ),
		during: []func(*rig){commandsSucceed, relayFallsBehind, nothingPublishedAfterInject}},
	{name: "redis stall", via: []dep{depRedis}, inject: pause(depRedis), heal: resume(depRedis),
		during: []func(*rig){commandsSucceed, resolvesFromPostgres}},
	{name: "redis cut", via: []dep{depRedis}, inject: cut(depRedis), heal: restore(depRedis),
		during: []func(*rig){commandsSucceed, redisFallsBehind, resolvesFromPostgres}},
	{name: "redis restored from an older copy", inject: backupRedis, heal: restoreRedisBackup,
		during: []func(*rig){commandsSucceed}},
	{name: "postgres stall", via: []dep{depPostgres}, blocking: true, inject: pause(depPostgres), heal: resume(depPostgres),
		during: []func(*rig){never500}},
	{name: "postgres cut", via: []dep{depPostgres}, blocking: true, inject: cut(depPostgres), heal: restore(depPostgres),
		during: []func(*rig){refused503Promptly, readyzNamesPostgresDown, secretsRefused503}},
	{name: "postgres restart", via: []dep{depPostgres}, blocking: true, inject: restartPostgres, heal: restore(depPostgres),
		during: []func(*rig){never500}},
	{name: "kill -9 mid-burst", via: []dep{depRabbitMQ}, process: true, blocking: true, inject: killMidBurst, heal: restartAfterKill,
		during: []func(*rig){relayWasBehindAtKill}},
	{name: "leader partition", replicas: 2, leaderPartition: true, inject: partitionLeader, heal: healLeader,
		during: []func(*rig){commandsSucceed, takeoverWithin30s}, after: []func(*rig, map[string]int){oldLeaderPublishedNothingAfterTakeover}},
	{name: "leader shuts down", replicas: 2, leaderPartition: true, inject: func(r *rig) { r.reps[0].stop() }, heal: func(*rig) {},
		during: []func(*rig){commandsSucceed, takeoverWithin30s}},
	{name: "two replicas", replicas: 2, inject: func(*rig) {}, heal: func(*rig) {},
		during: []func(*rig){commandsSucceed}, after: []func(*rig, map[string]int){publishedExactlyOnce}},
}

// TestFaults runs the relay and the Redis projector through every fault of
// the table: commands before, during and after the fault, then the checks.
func TestFaults(t *testing.T) {
	t.Parallel()
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			runFault(t, f)
		})
	}
}

func runFault(t *testing.T, f fault) {
	r := newRig(t, f)
	targets := r.reps
	if f.leaderPartition {
		targets = r.reps[1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := r.load.tenants(ctx, "before", 4, targets); err != nil {
		t.Fatal(err)
	}
	r.converged()

	_, head, _ := progress(t, r.pool, messaging.RelayName)
	r.headAtInject = head
	r.leaderPID = r.relayLeaderPID()
	var background chan error
	if f.blocking {
		// Commands keep coming through the fault; they succeed once it healed.
		background = make(chan error, 1)
		go func() { background <- r.load.tenants(ctx, "during", 6, targets) }()
		r.waitAcked(3)
	}
	f.inject(r)
	if !f.blocking {
		if err := r.load.tenants(ctx, "during", 6, targets); err != nil {
			t.Fatal(err)
		}
	} else {
		time.Sleep(3 * time.Second) // let commands meet the fault
	}
	for _, check := range f.during {
		check(r)
	}
	f.heal(r)
	if background != nil {
		if err := <-background; err != nil {
			t.Fatal(err)
		}
	}
	if err := r.load.tenants(ctx, "after", 4, targets); err != nil {
		t.Fatal(err)
	}
	copies := r.converged()
	for _, check := range f.after {
		check(r, copies)
	}
}

// waitAcked waits until the workload has n more commands acknowledged.
func (r *rig) waitAcked(n int64) {
	r.t.Helper()
	target := r.load.acked.Load() + n
	testkit.Eventually(r.t, 30*time.Second, func() error {
		if got := r.load.acked.Load(); got < target {
			return errorf("%d commands acknowledged, waiting for %d", got, target)
		}
		return nil
	})
}

// The faults.

func pause(d dep) func(*rig)   { return func(r *rig) { r.proxy[d].Pause() } }
func resume(d dep) func(*rig)  { return func(r *rig) { r.proxy[d].Resume() } }
func cut(d dep) func(*rig)     { return func(r *rig) { r.proxy[d].Cut() } }
func restore(d dep) func(*rig) { return func(r *rig) { tcpproxy.MustRestore(r.t, r.proxy[d]) } }

// backupRedis takes a copy of the Redis model; restoreRedisBackup puts it
// back after the tenants changed (deletes included), as restoring a backup
// or failing over to a lagging replica would.
func backupRedis(r *rig) { r.backup = dumpPrefix(r.t, r.rdb, r.env["REDIS_KEY_PREFIX"]) }
func restoreRedisBackup(r *rig) {
	testkit.Eventually(r.t, 30*time.Second, func() error { // the changes reached Redis before the copy is put back
		if cp, head, _ := progress(r.t, r.pool, projections.RedisTenantsName); cp != head {
			return errorf("redis projector at %d of %d", cp, head)
		}
		return nil
	})
	restoreDump(r.t, r.rdb, r.backup)
}

// restartPostgres ends every session of the service's database, as a
// restart of the server does, and keeps it unreachable for two seconds.
func restartPostgres(r *rig) {
	r.proxy[depPostgres].Cut()
	if _, err := r.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		r.t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
}

// killMidBurst cuts the broker off (so committed events pile up unpublished)
// and kills the service with SIGKILL while commands keep coming.
func killMidBurst(r *rig) {
	r.proxy[depRabbitMQ].Cut()
	r.waitAcked(5)
	r.reps[0].proc.kill()
	cp, head, _ := progress(r.t, r.pool, messaging.RelayName)
	r.headAtInject = head
	r.t.Logf("killed with the relay at %d of %d", cp, head)
}

func restartAfterKill(r *rig) {
	tcpproxy.MustRestore(r.t, r.proxy[depRabbitMQ])
	r.start(r.reps[0], true)
}

// partitionLeader silences the leading replica's PostgreSQL connections
// without a reset (packets dropped, a hung host).
func partitionLeader(r *rig) { r.reps[0].pg.Pause() }
func healLeader(r *rig)      { r.reps[0].pg.Resume() }

// The checks.

// commandsSucceed: the fault did not fail a single command.
func commandsSucceed(r *rig) {
	for _, a := range r.load.attemptsOf("during") {
		if a.status/100 != 2 {
			r.t.Fatalf("a command failed during the fault: %d %s after %s", a.status, a.err, a.took)
		}
	}
}

// never500: whatever failed, failed as a 503 (or did not answer), never 500.
func never500(r *rig) {
	for _, a := range r.load.attemptsOf("during") {
		if a.status >= 500 && a.status != 503 {
			r.t.Fatalf("a command answered %d during the fault", a.status)
		}
	}
}

// refused503Promptly: with the dependency refusing connections, commands
// answer 503 promptly.
func refused503Promptly(r *rig) {
	never500(r)
	n := 0
	for _, a := range r.load.attemptsOf("during") {
		if a.status == 503 {
			n++
			if a.took > 10*time.Second {
				r.t.Fatalf("a 503 took %s", a.took)
			}
		}
	}
	if n == 0 {
		r.t.Fatal("no command was refused with 503 while PostgreSQL was cut off")
	}
}

// secretsRefused503: the secret and token routes answer 503 while
// PostgreSQL is cut off (the vault can neither check nor open keys), never
// a 500.
func secretsRefused503(r *rig) {
	id := domain.NewTenantID()
	for _, route := range []string{"/whatsapp/token", "/genesys/credentials/secret", "/genesys/token"} {
		if res := r.reps[0].get("/api/tenants/"+string(id)+route, serviceKey); res.status != 503 {
			r.t.Errorf("GET %s with PostgreSQL cut off: %d %s", route, res.status, res.body)
		}
	}
}

// readyzNamesPostgresDown: /readyz says PostgreSQL is down, and names no
// address, user or database.
func readyzNamesPostgresDown(r *rig) {
	res := r.reps[0].get("/readyz", "")
	if res.status != 503 || !strings.Contains(string(res.body), `"postgres":{"status":"down"}`) {
		r.t.Fatalf("readyz with PostgreSQL cut off: %d %s", res.status, res.body)
	}
	u, err := url.Parse(r.reps[0].env["DATABASE_URL"])
	if err != nil {
		r.t.Fatal(err)
	}
	for _, secret := range []string{strings.TrimPrefix(u.Path, "/"), u.Hostname(), u.Port(), u.User.Username() + "@",
		"user=", "host=", "dial", "database"} {
		if strings.Contains(string(res.body), secret) {
			r.t.Fatalf("readyz shows %q: %s", secret, res.body)
		}
	}
}

// relayFallsBehind: the relay stands still with an error while the broker
// is unreachable.
func relayFallsBehind(r *rig) { r.fallsBehind(messaging.RelayName) }

// redisFallsBehind: the Redis projector stands still with an error.
func redisFallsBehind(r *rig) { r.fallsBehind(projections.RedisTenantsName) }

func (r *rig) fallsBehind(projector string) {
	testkit.Eventually(r.t, 45*time.Second, func() error {
		if cp, head, lastErr := progress(r.t, r.pool, projector); lastErr == "" || cp >= head {
			return errorf("%s at %d of %d with no error during the fault", projector, cp, head)
		}
		return nil
	})
}

// nothingPublishedAfterInject: no event committed during the fault reached
// the queue while the broker was unreachable.
func nothingPublishedAfterInject(r *rig) {
	for _, d := range r.tap.deliveries() {
		h, _ := d.Headers[messaging.HeaderGlobalPosition].(string)
		if pos, _ := strconv.ParseInt(h, 10, 64); pos > r.headAtInject {
			r.t.Fatalf("event at position %d published while the broker was unreachable", pos)
		}
	}
}

// resolvesFromPostgres: the resolve routes answer from PostgreSQL while
// Redis is unusable, promptly and with the current state.
func resolvesFromPostgres(r *rig) {
	rows, err := r.pool.Query(context.Background(), `SELECT phone_number_id, tenant_id::text FROM phone_number_claims`)
	if err != nil {
		r.t.Fatal(err)
	}
	claims := map[string]string{}
	for rows.Next() {
		var p, id string
		_ = rows.Scan(&p, &id)
		claims[p] = id
	}
	rows.Close()
	for p, id := range claims {
		start := time.Now()
		res := r.reps[0].get("/api/resolve/whatsapp/"+p, serviceKey)
		if res.status != 200 || res.json(r.t)["tenantId"] != id || time.Since(start) > 2*time.Second {
			r.t.Fatalf("resolve %s with Redis unusable: %d %s after %s", p, res.status, res.body, time.Since(start))
		}
	}
}

// relayWasBehindAtKill: the kill left committed events unpublished, so the
// row proves the restarted relay publishes them.
func relayWasBehindAtKill(r *rig) {
	if cp, _, _ := progress(r.t, r.pool, messaging.RelayName); cp >= r.headAtInject {
		r.t.Fatalf("the relay had published everything (%d of %d) before the kill; the row proves nothing", cp, r.headAtInject)
	}
}

// takeoverWithin30s: a survivor leads the relay within 30 s of the leader
// going silent (or stopping).
func takeoverWithin30s(r *rig) {
	start := time.Now()
	testkit.Eventually(r.t, 30*time.Second, func() error {
		if pid := r.relayLeaderPID(); pid == 0 || pid == r.leaderPID {
			return errorf("the relay lock is still held by the silent leader (pid %d)", pid)
		}
		return nil
	})
	r.takeoverAt = time.Now()
	if app := r.reps[0].app; app != nil {
		r.confirmedAt = app.app.relay.Confirmed()
	}
	r.t.Logf("leadership passed %s after the leader went silent", time.Since(start).Round(100*time.Millisecond))
	// The survivor publishes: the commands made during the partition arrive.
	r.tap.waitAll(r.t, 30*time.Second, committedEvents(r.t, r.pool))
}

// oldLeaderPublishedNothingAfterTakeover: the silent leader stopped before
// the survivor started, so no event was published by two leaders at once.
func oldLeaderPublishedNothingAfterTakeover(r *rig, _ map[string]int) {
	if got := r.reps[0].app.app.relay.Confirmed(); got != r.confirmedAt {
		r.t.Fatalf("the old leader published %d events after the takeover", got-r.confirmedAt)
	}
}

// publishedExactlyOnce: healthy replicas publish each event once.
func publishedExactlyOnce(r *rig, copies map[string]int) {
	for id, n := range copies {
		if n != 1 {
			r.t.Fatalf("event %s published %d times by healthy replicas", id, n)
		}
	}
}

// get sends a GET with key to the replica.
func (rep *replica) get(path, key string) response {
	req, err := http.NewRequest("GET", rep.base+path, nil)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := faultClient.Do(req)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}
