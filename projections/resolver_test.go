package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// linkedTenant creates a tenant with a phone number and an integration.
func (f *redisFixture) linkedTenant(name, phone, integration string) (domain.TenantID, domain.State) {
	f.t.Helper()
	id := f.create(name)
	st := f.exec(id, func(t *domain.Tenant) error {
		return errors.Join(
			t.LinkWABA(domain.WABALinked{WABAID: "waba-" + phone, PhoneNumberID: phone, DisplayPhoneNumber: "+" + phone}),
			t.SetGenesysCredentials("client", "mypurecloud.com", secret("secret-value")),
			t.LinkGenesysIntegration(integration, nil))
	})
	return id, st
}

func TestResolverReadsRedisFirstAndRefillsFromPostgres(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	ctx := context.Background()
	res := projections.NewResolver(f.rdb, f.prefix, f.tenants, testkit.Logger())
	id, st := f.linkedTenant("Acme", "res-p1", "res-i1")

	// No projector runs: Redis misses, PostgreSQL answers and the key is refilled.
	c, err := decoded(res.ByPhoneNumber(ctx, "res-p1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != id || c.Version != st.Version || c.WhatsApp.PhoneNumberID != "res-p1" || c.Genesys.IntegrationID != "res-i1" {
		t.Fatalf("context = %+v", c)
	}
	if !f.pointsAt(f.keys.Phone("res-p1"), id, st.Version) {
		t.Fatal("the miss was not refilled")
	}
	if ttl := f.rdb.PTTL(ctx, f.keys.Phone("res-p1")).Val(); ttl <= 0 {
		t.Fatalf("refilled key has TTL %v; want an expiry", ttl)
	}

	// A hit is served by Redis: change the cached name and see it.
	for _, key := range []string{f.keys.Phone("res-p1"), f.keys.Integration("res-i1"), f.keys.Tenant(id)} {
		cached := projections.ContextFromState(st, "res-p1")
		cached.Name = "from redis"
		raw, _ := jsonMarshal(cached)
		f.rdb.Set(ctx, key, raw, 0)
	}
	for what, get := range map[string]func() (projections.Context, error){
		"phone":       func() (projections.Context, error) { return decoded(res.ByPhoneNumber(ctx, "res-p1", 0)) },
		"integration": func() (projections.Context, error) { return decoded(res.ByIntegration(ctx, "res-i1", 0)) },
		"tenant":      func() (projections.Context, error) { return decoded(res.ByTenant(ctx, id, 0)) },
	} {
		if c, err := get(); err != nil || c.Name != "from redis" {
			t.Fatalf("by %s: %+v, %v; want the Redis value", what, c, err)
		}
	}

	// Unknown ids are not found, in Redis or PostgreSQL.
	for _, get := range []func() (projections.Context, error){
		func() (projections.Context, error) { return decoded(res.ByPhoneNumber(ctx, "nobody", 0)) },
		func() (projections.Context, error) { return decoded(res.ByIntegration(ctx, "nobody", 0)) },
		func() (projections.Context, error) { return decoded(res.ByTenant(ctx, domain.NewTenantID(), 0)) },
		func() (projections.Context, error) { return decoded(res.ByTenant(ctx, "not-a-uuid", 0)) },
		func() (projections.Context, error) { return decoded(res.ByPhoneNumber(ctx, "", 0)) },
	} {
		if _, err := get(); !errors.Is(err, domain.ErrTenantNotFound) {
			t.Fatalf("unknown id: err = %v, want ErrTenantNotFound", err)
		}
	}
}

func TestResolverStatusesAndDeletion(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	ctx := context.Background()
	res := projections.NewResolver(f.rdb, f.prefix, f.tenants, testkit.Logger())
	start(t, f.runner(fastRunner), f.projector(nil))
	id, _ := f.linkedTenant("Acme", "st-p1", "st-i1")
	st := f.exec(id, func(t *domain.Tenant) error { return t.Suspend("unpaid") })
	testkit.Until(t, 20*time.Second, "projected", func() bool { return f.pointsAt(f.keys.Phone("st-p1"), id, st.Version) })
	if c, err := decoded(res.ByPhoneNumber(ctx, "st-p1", 0)); err != nil || c.Status != domain.StatusSuspended {
		t.Fatalf("suspended tenant: %+v, %v; want it resolved with its status", c, err)
	}

	f.exec(id, func(t *domain.Tenant) error { return t.Delete("closed") })
	// Right after the delete, whether or not the projector has caught up:
	for _, get := range []func() (projections.Context, error){
		func() (projections.Context, error) { return decoded(res.ByPhoneNumber(ctx, "st-p1", 0)) },
		func() (projections.Context, error) { return decoded(res.ByIntegration(ctx, "st-i1", 0)) },
		func() (projections.Context, error) { return decoded(res.ByTenant(ctx, id, 0)) },
	} {
		testkit.Until(t, 20*time.Second, "deleted tenant no longer resolving", func() bool {
			_, err := get()
			return errors.Is(err, domain.ErrTenantNotFound)
		})
	}
	if f.exists(f.keys.Tenant(id)) {
		t.Fatal("a deleted tenant was cached")
	}
}

func TestResolverAnswersWithRedisDown(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	ctx := context.Background()
	id, st := f.linkedTenant("Acme", "down-p1", "down-i1")

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer dead.Close()
	res := projections.NewResolver(dead, f.prefix, f.tenants, testkit.Logger())
	for range 10 { // past the breaker threshold
		c, err := decoded(res.ByPhoneNumber(ctx, "down-p1", 0))
		if err != nil || c.TenantID != id || c.Version != st.Version {
			t.Fatalf("with Redis down: %+v, %v", c, err)
		}
	}
	if _, err := decoded(res.ByIntegration(ctx, "down-i1", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := decoded(res.ByPhoneNumber(ctx, "unknown", 0)); !errors.Is(err, domain.ErrTenantNotFound) {
		t.Fatalf("unknown with Redis down: %v", err)
	}

	// Through a proxy: a hanging Redis, then a recovered one.
	proxy, client := proxiedRedis(t)
	res = projections.NewResolver(client, f.prefix, f.tenants, testkit.Logger(),
		projections.ResolverConfig{RedisTimeout: 50 * time.Millisecond, BreakerCooldown: 100 * time.Millisecond})
	proxy.Cut()
	proxy.Pause() // new connections are accepted but never answered
	tcpproxy.MustRestore(t, proxy)
	for range 5 {
		if c, err := decoded(res.ByTenant(ctx, id, 0)); err != nil || c.TenantID != id {
			t.Fatalf("with Redis hanging: %+v, %v", c, err)
		}
	}
	proxy.Cut()
	proxy.Resume()
	tcpproxy.MustRestore(t, proxy)
	cached := projections.ContextFromState(st, "")
	cached.Name = "from redis"
	raw, _ := jsonMarshal(cached)
	f.rdb.Set(ctx, f.keys.Tenant(id), raw, 0)
	testkit.Until(t, 20*time.Second, "Redis used again after it recovered", func() bool {
		c, err := decoded(res.ByTenant(ctx, id, 0))
		return err == nil && c.Name == "from redis"
	})
}

// decoded reads the context JSON a lookup answered.
func decoded(raw json.RawMessage, err error) (projections.Context, error) {
	if err != nil {
		return projections.Context{}, err
	}
	var c projections.Context
	return c, json.Unmarshal(raw, &c)
}
