package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/tcpproxy"
	"tenant-service/messaging"
	"tenant-service/projections"
)

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
	tcpproxy.MustRestore(t, proxy)
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
	tcpproxy.MustRestore(t, proxy)

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
