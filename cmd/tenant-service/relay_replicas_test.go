package main

import (
	"fmt"
	"testing"
	"time"

	"tenant-service/messaging"
)

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
