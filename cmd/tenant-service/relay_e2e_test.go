package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
	"tenant-service/messaging"
	"tenant-service/projections"
)

// contractKeys are the routing keys PRODUCT.md fixes for each event type.
var contractKeys = map[string]string{
	"TenantCreated": "tenant.tenant_created", "TenantUpdated": "tenant.tenant_updated",
	"TenantSuspended": "tenant.tenant_suspended", "TenantReactivated": "tenant.tenant_reactivated",
	"TenantDeleted": "tenant.tenant_deleted", "GenesysCredentialsSet": "tenant.genesys_credentials_set",
	"CredentialsRotated": "tenant.credentials_rotated", "GenesysIntegrationLinked": "tenant.genesys_integration_linked",
	"WABALinked": "tenant.waba_linked", "WABAUnlinked": "tenant.waba_unlinked",
	"WhatsAppTokenStored": "tenant.whatsapp_token_stored", "WhatsAppAccountUpdated": "tenant.whatsapp_account_updated",
}

// checkDelivered checks the messages against es_events: every committed
// event arrived, nothing else did, every copy of an event carries its
// routing key and headers, and each tenant's events first arrived in
// version order (1, 2, 3, ...). It returns the number of copies per event id.
func checkDelivered(t *testing.T, got []delivery, events []committed) map[string]int {
	t.Helper()
	byID := make(map[string]committed, len(events))
	for _, e := range events {
		byID[e.id] = e
	}
	copies, next := map[string]int{}, map[string]int64{}
	for _, d := range got {
		e, ok := byID[d.MessageId]
		if !ok {
			t.Fatalf("message %q (%s) was published but no such event is committed", d.MessageId, d.RoutingKey)
		}
		want := map[string]string{messaging.HeaderEventType: e.typ, messaging.HeaderTenantID: e.tenant,
			messaging.HeaderStreamVersion:  strconv.FormatInt(e.version, 10),
			messaging.HeaderGlobalPosition: strconv.FormatInt(e.position, 10)}
		for k, v := range want {
			if h, _ := d.Headers[k].(string); h != v {
				t.Fatalf("event %s: header %s = %#v, want %q", e.id, k, d.Headers[k], v)
			}
		}
		if d.RoutingKey != contractKeys[e.typ] {
			t.Fatalf("event %s (%s): routing key %q, want %q", e.id, e.typ, d.RoutingKey, contractKeys[e.typ])
		}
		if copies[e.id]++; copies[e.id] == 1 {
			if e.version != next[e.tenant]+1 {
				t.Fatalf("tenant %s: version %d arrived first after version %d (out of order)", e.tenant, e.version, next[e.tenant])
			}
			next[e.tenant] = e.version
		}
	}
	for _, e := range events {
		if copies[e.id] == 0 {
			t.Fatalf("event %s (%s v%d at position %d) never delivered", e.id, e.typ, e.version, e.position)
		}
	}
	return copies
}

// subscribe consumes a queue of the test's own with the messaging
// Subscriber, bound with keys; it returns what arrived so far.
func subscribe(t *testing.T, env map[string]string, keys ...string) func() []messaging.Envelope {
	t.Helper()
	queue := testenv.Name("test.sub.")
	s, err := messaging.NewSubscriber(testenv.AMQPURL(t), nil, messaging.SubscriberConfig{
		Exchange: env["AMQP_EXCHANGE"], Queue: queue, RoutingKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []messaging.Envelope
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx, func(_ context.Context, env messaging.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, env)
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = s.Close()
		if conn, err := amqp.Dial(testenv.AMQPURL(t)); err == nil {
			if ch, err := conn.Channel(); err == nil {
				_, _ = ch.QueueDelete(queue, false, false, false)
			}
			_ = conn.Close()
		}
	})
	return func() []messaging.Envelope {
		mu.Lock()
		defer mu.Unlock()
		return append([]messaging.Envelope(nil), got...)
	}
}

// redisContext reads a Context key; ok is false when the key is missing.
func redisContext(t *testing.T, rdb redis.UniversalClient, key string) (projections.Context, bool) {
	t.Helper()
	raw, err := rdb.Get(context.Background(), key).Bytes()
	if err == redis.Nil {
		return projections.Context{}, false
	}
	var c projections.Context
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("read %s: %v %s", key, err, raw)
	}
	return c, true
}

// Every command's event reaches a bound queue as the contract describes it,
// and the Redis keys follow.
func TestEventsReachQueueAndRedis(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	tap := bindTap(t, env)
	linked := subscribe(t, env, "tenant.waba_linked")
	rdb, keys := redisFor(t, env)
	a := startApp(t, env)

	const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := a.do("POST", "/api/tenants", adminKey, `{"name":"Relayed"}`, "traceparent: "+trace)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["tenantId"].(string)
	secrets := []string{"EAAe2e-token-KKKK1111", "hook-secret-LLLL2222", "e2e-secret-MMMM3333"}
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "", `{"name":"Relayed Ltd"}`},
		{"POST", "/whatsapp", `{"wabaId":"7000","phoneNumberId":"7001","accessToken":"` + secrets[0] + `"}`},
		{"PUT", "/genesys/integration", `{"integrationId":"int-e2e","webhookSecret":"` + secrets[1] + `"}`},
		{"PUT", "/genesys/credentials", credentialsBody("cid-e2e", secrets[2], "mypurecloud.de")},
		{"POST", "/suspend", `{"reason":"e2e"}`},
	} {
		if r := a.do(c.method, "/api/tenants/"+id+c.path, adminKey, c.body); r.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	events := committedEvents(t, a.app.pool)
	if len(events) != 7 {
		t.Fatalf("%d events committed, want 7", len(events))
	}
	tap.waitAll(t, 30*time.Second, events)
	got := tap.deliveries()
	types := map[string]string{}
	for _, e := range events {
		types[e.id] = e.typ
	}
	for id, n := range checkDelivered(t, got, events) {
		if n != 1 {
			t.Errorf("event %s delivered %d times without any failure", id, n)
		}
	}
	for _, d := range got {
		if d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent {
			t.Errorf("message %s: content type %q, delivery mode %d", d.MessageId, d.ContentType, d.DeliveryMode)
		}
		var body struct{ EventID, TenantID, Type string }
		if err := json.Unmarshal(d.Body, &body); err != nil || body.EventID != d.MessageId || body.TenantID != id || body.Type != types[d.MessageId] {
			t.Errorf("message %s: body %s (%v)", d.MessageId, d.Body, err)
		}
		for _, s := range append(secrets, "ciphertext") {
			if strings.Contains(string(d.Body), s) {
				t.Errorf("message %s (%s) carries %q", d.MessageId, d.RoutingKey, s)
			}
		}
		if tp, _ := d.Headers[messaging.HeaderTraceParent].(string); d.MessageId == events[0].id && tp != trace {
			t.Errorf("traceparent of the create: %q, want %q", tp, trace)
		}
	}

	// A subscriber bound to one routing key gets just that event.
	eventually(t, 30*time.Second, func() error {
		envs := linked()
		if len(envs) != 1 || envs[0].Type != "WABALinked" || envs[0].MessageID != events[2].id ||
			envs[0].RoutingKey != "tenant.waba_linked" || envs[0].Headers[messaging.HeaderTenantID] != id {
			return errorf("subscriber got %+v, want the one WABALinked event %s", envs, events[2].id)
		}
		return nil
	})
	// The Redis model shows the final state under every key.
	final := events[len(events)-1].version
	eventually(t, 30*time.Second, func() error {
		for _, key := range []string{keys.Tenant(domain.TenantID(id)), keys.Phone("7001"), keys.Integration("int-e2e")} {
			c, ok := redisContext(t, rdb, key)
			if !ok || string(c.TenantID) != id || int64(c.Version) != final || c.Status != "suspended" {
				return errorf("%s: %+v (present %v), want version %d suspended", key, c, ok, final)
			}
		}
		return nil
	})
}

// With RabbitMQ unreachable, commands still succeed; once it is back every
// event is delivered, in order per tenant.
func TestRabbitMQOutageLosesNothing(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	tap := bindTap(t, env)
	proxy, via := proxyURL(t, env["AMQP_URL"])
	env["AMQP_URL"] = via
	a := startApp(t, env)
	pool := a.app.pool

	ids := []string{a.createTenant("before 0"), a.createTenant("before 1")}
	tap.waitAll(t, 30*time.Second, committedEvents(t, pool))
	_, headBefore, _ := progress(t, pool, messaging.RelayName)

	proxy.Cut()
	for i := range 12 {
		if i%3 == 0 {
			ids = append(ids, a.createTenant(fmt.Sprintf("during %d", i)))
			continue
		}
		if r := a.do("PATCH", "/api/tenants/"+ids[i%len(ids)], adminKey, fmt.Sprintf(`{"name":"during %d"}`, i)); r.status != 200 {
			t.Fatalf("update with RabbitMQ down: %d %s", r.status, r.body)
		}
	}
	eventually(t, 30*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, messaging.RelayName); lastErr == "" || cp >= head {
			return errorf("relay at %d of %d with no error while RabbitMQ is unreachable", cp, head)
		}
		return nil
	})
	for _, d := range tap.deliveries() {
		h, _ := d.Headers[messaging.HeaderGlobalPosition].(string)
		if pos, _ := strconv.ParseInt(h, 10, 64); pos > headBefore {
			t.Fatalf("event at position %d delivered while the broker was cut off", pos)
		}
	}
	restoreProxy(t, proxy)
	for _, id := range ids[:2] {
		if r := a.do("PATCH", "/api/tenants/"+id, adminKey, `{"name":"after"}`); r.status != 200 {
			t.Fatalf("update after the outage: %d %s", r.status, r.body)
		}
	}

	events := committedEvents(t, pool)
	tap.waitAll(t, 60*time.Second, events)
	checkDelivered(t, tap.deliveries(), events)
	eventually(t, 30*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, messaging.RelayName); cp != head || lastErr != "" {
			return errorf("relay at %d of %d, last error %q", cp, head, lastErr)
		}
		return nil
	})
}

// With Redis unreachable, commands still succeed; once it is back the keys
// catch up, none skipped.
func TestRedisOutageKeysCatchUp(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	rdb, keys := redisFor(t, env)
	proxy, via := proxyURL(t, env["REDIS_URL"])
	env["REDIS_URL"] = via
	a := startApp(t, env)
	pool := a.app.pool

	ids := []string{a.createTenant("before")}
	eventually(t, 30*time.Second, func() error {
		if _, ok := redisContext(t, rdb, keys.Tenant(domain.TenantID(ids[0]))); !ok {
			return errorf("first tenant not in Redis")
		}
		return nil
	})

	proxy.Cut()
	for i := range 6 {
		id := a.createTenant(fmt.Sprintf("during %d", i))
		ids = append(ids, id)
		if r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, fmt.Sprintf(`{"wabaId":"8%03d","phoneNumberId":"9%03d"}`, i, i)); r.status != 201 {
			t.Fatalf("link with Redis down: %d %s", r.status, r.body)
		}
	}
	if r := a.do("PATCH", "/api/tenants/"+ids[0], adminKey, `{"name":"renamed during"}`); r.status != 200 {
		t.Fatalf("update with Redis down: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/api/resolve/whatsapp/9002", serviceKey, ""); r.status != 200 || r.json(t)["tenantId"] != ids[3] {
		t.Fatalf("resolve with Redis down: %d %s", r.status, r.body)
	}
	eventually(t, 30*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, projections.RedisTenantsName); lastErr == "" || cp >= head {
			return errorf("redis projector at %d of %d with no error while Redis is unreachable", cp, head)
		}
		return nil
	})
	restoreProxy(t, proxy)

	eventually(t, 60*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, projections.RedisTenantsName); cp != head || lastErr != "" {
			return errorf("redis projector at %d of %d, last error %q", cp, head, lastErr)
		}
		return nil
	})
	for i, id := range ids {
		r := a.do("GET", "/api/tenants/"+id, adminKey, "")
		version := int64(r.json(t)["version"].(float64))
		want := []string{keys.Tenant(domain.TenantID(id))}
		if i > 0 {
			want = append(want, keys.Phone(fmt.Sprintf("9%03d", i-1)))
		}
		for _, key := range want {
			if c, ok := redisContext(t, rdb, key); !ok || string(c.TenantID) != id || int64(c.Version) != version {
				t.Fatalf("%s after the outage: %+v (present %v), want tenant %s version %d", key, c, ok, id, version)
			}
		}
	}
}

// Two instances on one database publish each event once; when the leading
// one stops, the other's relay takes over and publishes what follows.
func TestTwoInstancesPublishOnce(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	tap := bindTap(t, env)
	first, stopFirst := startStoppable(t, env)
	pool := openPool(t, env)
	// The first instance leads the relay before the second one starts.
	eventually(t, 30*time.Second, func() error {
		if !leaderHeld(t, pool, messaging.RelayName) {
			return errorf("no relay leader yet")
		}
		return nil
	})
	second := startApp(t, env)

	var ids []string
	for i := range 10 {
		app := []*testApp{first, second}[i%2]
		ids = append(ids, app.createTenant(fmt.Sprintf("tenant %d", i)))
		if r := app.do("PATCH", "/api/tenants/"+ids[i/2], adminKey, fmt.Sprintf(`{"name":"update %d"}`, i)); r.status != 200 {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
	}
	events := committedEvents(t, pool)
	tap.waitAll(t, 30*time.Second, events)
	eventually(t, 30*time.Second, func() error {
		if cp, head, _ := progress(t, pool, messaging.RelayName); cp != head {
			return errorf("relay at %d of %d", cp, head)
		}
		return nil
	})
	for id, n := range checkDelivered(t, tap.deliveries(), events) {
		if n != 1 {
			t.Fatalf("event %s published %d times by two healthy instances", id, n)
		}
	}

	stopFirst()
	stopped := time.Now()
	for i := range 4 {
		second.createTenant(fmt.Sprintf("after stop %d", i))
		if r := second.do("PATCH", "/api/tenants/"+ids[i], adminKey, `{"name":"after stop"}`); r.status != 200 {
			t.Fatalf("update after stop: %d %s", r.status, r.body)
		}
	}
	events = committedEvents(t, pool)
	tap.waitAll(t, 30*time.Second, events)
	t.Logf("the surviving relay delivered every new event %s after the leader stopped", time.Since(stopped).Round(time.Millisecond))
	checkDelivered(t, tap.deliveries(), events)
}

var serviceBinary struct {
	once sync.Once
	path string
	err  error
}

// buildService builds the service once per test process, with the race
// detector when the tests run with it (so the build reuses their cache),
// to a fixed path that later builds only relink when something changed.
func buildService(t *testing.T) string {
	t.Helper()
	serviceBinary.once.Do(func() {
		args := []string{"build"}
		flavor := "plain"
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args, flavor = append(args, "-race"), "race"
				}
			}
		}
		serviceBinary.path = filepath.Join(os.TempDir(), "tenant-service-e2e", flavor, "tenant-service")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, "-o", serviceBinary.path, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			serviceBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if serviceBinary.err != nil {
		t.Fatal(serviceBinary.err)
	}
	return serviceBinary.path
}

// service is the built binary running as its own process.
type service struct {
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
}

// kill sends SIGKILL (no shutdown, no last batch) and waits until the
// process is gone.
func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runService starts the binary with env and waits until it answers on port.
func runService(t *testing.T, env map[string]string, port int) *service {
	t.Helper()
	cmd := exec.Command(buildService(t), "serve")
	cmd.Dir = t.TempDir() // no .env file to pick up
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &service{cmd: cmd, logs: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start service: %v", err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if strings.Contains(s.logs.String(), "DATA RACE") {
			t.Error("the race detector reported a data race in the service")
		}
		if t.Failed() {
			t.Logf("service logs (pid %d):\n%s", cmd.Process.Pid, s.logs.String())
		}
	})
	eventually(t, 60*time.Second, func() error {
		select {
		case <-s.exited:
			t.Fatalf("service exited: %s", s.logs.String())
		default:
		}
		res, err := (&http.Client{Timeout: 2 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	})
	return s
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Killing the service (SIGKILL) in the middle of 1,000 commands loses no
// event: after a restart the relay publishes every committed one.
func TestKillMidBurstLosesNothing(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	tap := bindTap(t, env)
	pool := openPool(t, env)
	const commands, workers, perTenant = 1000, 16, 4 // each tenant: a create and three updates
	// A key per worker, so the per-key rate limit does not pace the burst.
	key := func(w int) string { return fmt.Sprintf("burst-admin-key-%02d-0123456789", w) }
	for w := range workers {
		env["API_KEYS"] += ",admin:" + key(w)
	}
	proxy, via := proxyURL(t, env["AMQP_URL"])
	env["AMQP_URL"] = via
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	svc := runService(t, env, port)

	var done atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	// send retries a command until the service answers it with 2xx, across
	// the kill and the restart.
	send := func(w int, method, path, body, idemKey string) (map[string]any, error) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key(w))
			req.Header.Set("Content-Type", "application/json")
			if idemKey != "" {
				req.Header.Set("Idempotency-Key", idemKey)
			}
			res, err := client.Do(req)
			if err == nil {
				var out map[string]any
				_ = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode/100 == 2 {
					done.Add(1)
					return out, nil
				}
				err = fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out)
			}
			if time.Now().After(deadline) {
				return nil, err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for n := w; n < commands/perTenant; n += workers {
				created, err := send(w, "POST", "/api/tenants", fmt.Sprintf(`{"name":"burst %d"}`, n), fmt.Sprintf("burst-%d", n))
				if err != nil {
					return err
				}
				id, _ := created["tenantId"].(string)
				for u := range perTenant - 1 {
					if _, err := send(w, "PATCH", "/api/tenants/"+id, fmt.Sprintf(`{"name":"burst %d.%d"}`, n, u), ""); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	failed := make(chan error, 1)
	go func() { failed <- g.Wait() }()
	began := time.Now()
	waitDone := func(n int64) {
		for done.Load() < n {
			select {
			case err := <-failed:
				t.Fatalf("the burst ended before the kill: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
	}
	waitDone(commands / 4)
	proxy.Cut() // the relay falls behind, so the kill leaves committed events unpublished
	waitDone(commands / 3)
	svc.kill()
	cp, head, _ := progress(t, pool, messaging.RelayName)
	if cp >= head {
		t.Fatalf("relay at %d of %d at the kill, with RabbitMQ cut off", cp, head)
	}
	t.Logf("killed after %d commands, %s into the burst, %d committed events unpublished",
		done.Load(), time.Since(began).Round(time.Millisecond), head-cp)
	restoreProxy(t, proxy)
	runService(t, env, port)
	t.Logf("restarted %s into the burst", time.Since(began).Round(time.Millisecond))
	if err := <-failed; err != nil {
		t.Fatal(err)
	}
	t.Logf("burst done in %s", time.Since(began).Round(time.Millisecond))

	eventually(t, 60*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, messaging.RelayName); cp != head {
			return errorf("relay at %d of %d (%s)", cp, head, lastErr)
		}
		return nil
	})
	events := committedEvents(t, pool)
	if len(events) < commands {
		t.Fatalf("%d events committed for %d acknowledged commands", len(events), commands)
	}
	tap.waitAll(t, 60*time.Second, events)
	copies := checkDelivered(t, tap.deliveries(), events)
	dups := 0
	for _, n := range copies {
		dups += n - 1
	}
	t.Logf("%d events committed, all delivered; %d duplicates after the kill", len(events), dups)
}
