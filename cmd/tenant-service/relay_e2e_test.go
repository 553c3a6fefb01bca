package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
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

// checkDelivered checks the messages against the event store: every committed
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
	testkit.Eventually(t, 30*time.Second, func() error {
		envs := linked()
		if len(envs) != 1 || envs[0].Type != "WABALinked" || envs[0].MessageID != events[2].id ||
			envs[0].RoutingKey != "tenant.waba_linked" || envs[0].Headers[messaging.HeaderTenantID] != id {
			return errorf("subscriber got %+v, want the one WABALinked event %s", envs, events[2].id)
		}
		return nil
	})
	// The Redis model shows the final state under every key.
	final := events[len(events)-1].version
	testkit.Eventually(t, 30*time.Second, func() error {
		for _, key := range []string{keys.Tenant(domain.TenantID(id)), keys.Phone("7001"), keys.Integration("int-e2e")} {
			c, ok := redisContext(t, rdb, key)
			if !ok || string(c.TenantID) != id || int64(c.Version) != final || c.Status != "suspended" {
				return errorf("%s: %+v (present %v), want version %d suspended", key, c, ok, final)
			}
		}
		return nil
	})
}
