package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

// A consumer that re-reads a tenant when its message arrives, passing the
// message's global_position as minPosition, never gets a state from before
// the message: not from the resolve routes, not from the tenant read.
func TestConsumerReReadingWithMinPositionNeverSeesThePast(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["API_KEY_RATE_LIMIT"] = "100000:100000"
	tap := bindTap(t, env)
	a := startApp(t, env)
	id := a.createTenant("Fresh")
	if r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"7100","phoneNumberId":"7101"}`); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if r := a.do("PUT", "/api/tenants/"+id+"/genesys/integration", adminKey, `{"integrationId":"fresh-int"}`); r.status != 200 {
		t.Fatalf("integration: %d %s", r.status, r.body)
	}

	const updates = 300
	var stale []string
	var mu sync.Mutex
	done := make(chan struct{})
	go func() { // the consumer: every message, as it arrives, three reads
		defer close(done)
		seen := 0
		for seen < updates+3 {
			ds := tap.deliveries()
			for ; seen < len(ds); seen++ {
				d := ds[seen]
				version, _ := strconv.ParseInt(fmt.Sprint(d.Headers["stream_version"]), 10, 64)
				pos := fmt.Sprint(d.Headers["global_position"])
				for _, path := range []string{"/api/resolve/whatsapp/7101", "/api/resolve/genesys/fresh-int",
					"/api/resolve/tenant/" + id, "/api/tenants/" + id} {
					key := serviceKey
					if path == "/api/tenants/"+id {
						key = adminKey
					}
					r := a.do("GET", path+"?minPosition="+pos, key, "")
					got, _ := r.json(t)["version"].(float64)
					if r.status != 200 || int64(got) < version {
						mu.Lock()
						stale = append(stale, fmt.Sprintf("%s after version %d at %s: %d version %v", path, version, pos, r.status, got))
						mu.Unlock()
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range updates {
		if r := a.do("PATCH", "/api/tenants/"+id, adminKey, fmt.Sprintf(`{"name":"Fresh %d"}`, i)); r.status != 200 {
			t.Fatalf("update %d: %d %s", i, r.status, r.body)
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the consumer did not get every message in time (%d so far)", len(tap.deliveries()))
	}
	if len(stale) > 0 {
		t.Fatalf("%d of %d reads answered a state from before their message, e.g. %s", len(stale), 4*(updates+3), stale[0])
	}
}

// minPosition is a number; anything else is a 400 naming it.
func TestMinPositionMustBeANumber(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Numbers")
	for _, path := range []string{"/api/resolve/whatsapp/1", "/api/resolve/genesys/1", "/api/resolve/tenant/" + id,
		"/api/tenants/" + id, "/api/tenants/" + id + "/whatsapp/token", "/api/tenants/" + id + "/genesys/token",
		"/api/tenants/" + id + "/genesys/credentials/secret"} {
		for _, bad := range []string{"abc", "-1", "1.5", "9999999999999999999999"} {
			expectProblem(t, a.do("GET", path+"?minPosition="+bad, adminKey, ""), 400, "minPosition")
		}
	}
	// Beyond the head, PostgreSQL answers.
	if r := a.do("GET", "/api/resolve/tenant/"+id+"?minPosition=999999", serviceKey, ""); r.status != 200 {
		t.Fatalf("minPosition beyond the head: %d %s", r.status, r.body)
	}
}

// The tenant context always has whatsapp, genesys and rateLimit, null when
// unset, so ctx.genesys.region never throws in a JavaScript consumer.
func TestTenantContextAlwaysHasItsBlocks(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Bare")
	r := a.do("GET", "/api/resolve/tenant/"+id, serviceKey, "")
	if r.status != 200 {
		t.Fatalf("resolve by tenant: %d %s", r.status, r.body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"whatsapp", "genesys", "rateLimit"} {
		if v, ok := raw[k]; !ok || string(v) != "null" {
			t.Fatalf("context %s = %s (present %v), want null: %s", k, v, ok, r.body)
		}
	}
	a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	testkit.Eventually(t, 10*time.Second, func() error { // without minPosition Redis may answer a moment longer
		if r := a.do("GET", "/api/resolve/tenant/"+id, serviceKey, ""); r.status != 404 {
			return fmt.Errorf("deleted tenant: %d %s", r.status, r.body)
		}
		return nil
	})
	expectProblem(t, a.do("GET", "/api/resolve/tenant/"+id, serviceKey, ""), 404, "")
	expectProblem(t, a.do("GET", "/api/resolve/tenant/not-a-uuid", serviceKey, ""), 404, "")
	expectProblem(t, a.do("GET", "/api/resolve/tenant/"+id, auditorKey, ""), 403, "")
}

// Redis restored from a copy taken before a delete (or a failover to a
// lagging replica) is noticed: the Redis model's applied position is below
// the projector's checkpoint, the model is replayed, and the deleted
// tenant's number stops resolving within 10 s and stays so.
func TestRedisRestoredFromAnOlderCopyIsReplayed(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startApp(t, env)
	rdb, keys := redisFor(t, env)
	ctx := context.Background()
	id := a.createTenant("Restored")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"7200","phoneNumberId":"7201"}`)
	testkit.Eventually(t, 10*time.Second, func() error {
		if rdb.Exists(ctx, keys.Phone("7201")).Val() == 0 {
			return errors.New("number not projected into Redis yet")
		}
		return nil
	})
	backup := dumpPrefix(t, rdb, env["REDIS_KEY_PREFIX"])

	if r := a.do("DELETE", "/api/tenants/"+id, adminKey, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if rdb.Exists(ctx, keys.Phone("7201")).Val() != 0 {
			return errors.New("number still in Redis after the delete")
		}
		return nil
	})
	restoreDump(t, rdb, backup)

	testkit.Eventually(t, 10*time.Second, func() error {
		if r := a.do("GET", "/api/resolve/whatsapp/7201", serviceKey, ""); r.status != 404 {
			return fmt.Errorf("deleted tenant's number still resolves after the restore: %d %s", r.status, r.body)
		}
		return nil
	})
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if r := a.do("GET", "/api/resolve/whatsapp/7201", serviceKey, ""); r.status != 404 {
			t.Fatalf("the deleted tenant's number resolved again: %d %s", r.status, r.body)
		}
	}
}

type dumped struct {
	key string
	val string
	ttl time.Duration
}

// dumpPrefix copies every key of the prefix, as a backup would.
func dumpPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) []dumped {
	t.Helper()
	ctx := context.Background()
	var out []dumped
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		v, err := rdb.Dump(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatalf("dump %s: %v", iter.Val(), err)
		}
		ttl := rdb.PTTL(ctx, iter.Val()).Val()
		out = append(out, dumped{key: iter.Val(), val: v, ttl: max(ttl, 0)})
	}
	if len(out) == 0 {
		t.Fatal("nothing to back up")
	}
	return out
}

// restoreDump puts the backup back over what Redis holds.
func restoreDump(t testing.TB, rdb redis.UniversalClient, backup []dumped) {
	t.Helper()
	for _, d := range backup {
		if err := rdb.RestoreReplace(context.Background(), d.key, d.ttl, d.val).Err(); err != nil {
			t.Fatalf("restore %s: %v", d.key, err)
		}
	}
}

// After DELETE answered on one replica, every replica refuses the tenant's
// secrets at once with 422, even one that served them a moment before (its
// data-key cache) and even with a stale token entry put back into Redis.
func TestDeleteShredsSecretsOnEveryReplicaAtOnce(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startApp(t, env)
	b := startApp(t, env)
	rdb, keys := redisFor(t, env)
	ctx := context.Background()
	id := a.createTenant("Shredded")
	if r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey,
		`{"wabaId":"7300","phoneNumberId":"7301","accessToken":"EAAshred-token-1234567890"}`); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if r := a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey,
		credentialsBody("shred-client", "shred-secret-0123456789", "mypurecloud.de")); r.status != 200 {
		t.Fatalf("credentials: %d %s", r.status, r.body)
	}
	routes := []string{"/api/tenants/" + id + "/whatsapp/token", "/api/tenants/" + id + "/genesys/credentials/secret"}
	for _, path := range routes {
		if r := b.do("GET", path, serviceKey, ""); r.status != 200 {
			t.Fatalf("replica b before the delete, %s: %d %s", path, r.status, r.body)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if rdb.Exists(ctx, keys.WhatsAppToken(domainID(id))).Val() == 0 {
			return errors.New("no token entry in Redis yet")
		}
		return nil
	})
	entry := rdb.Get(ctx, keys.WhatsAppToken(domainID(id))).Val()

	if r := a.do("DELETE", "/api/tenants/"+id, adminKey, ""); r.status != 200 {
		t.Fatalf("delete on replica a: %d %s", r.status, r.body)
	}
	check := func(when string) {
		t.Helper()
		for _, app := range []*testApp{b, a} {
			for _, path := range routes {
				p := expectProblem(t, app.do("GET", path, serviceKey, ""), 422, "")
				if p["code"] != "secrets-shredded" {
					t.Fatalf("%s, %s: code %v, want secrets-shredded", when, path, p["code"])
				}
			}
		}
	}
	check("right after the delete")
	// A stale copy of the token entry back in Redis changes nothing.
	testkit.Eventually(t, 10*time.Second, func() error {
		if rdb.Exists(ctx, keys.WhatsAppToken(domainID(id))).Val() != 0 {
			return errors.New("the projector has not removed the token entry yet")
		}
		return nil
	})
	rdb.Set(ctx, keys.WhatsAppToken(domainID(id)), entry, time.Hour)
	check("with the stale token entry back in Redis")
}

// A consumer that declares the exchange first, the usual way
// (assertExchange(name, 'topic', {durable: true})), receives every event.
func TestConsumerThatDeclaredTheExchangeFirstReceivesEverything(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	conn, err := amqp.Dial(env["AMQP_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(env["AMQP_EXCHANGE"], "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	tap := bindTap(t, env)
	a := startApp(t, env)
	for i := range 5 {
		a.createTenant(fmt.Sprintf("Early %d", i))
	}
	tap.waitAll(t, 20*time.Second, committedEvents(t, openPool(t, env)))
}

func domainID(id string) domain.TenantID { return domain.TenantID(id) }
