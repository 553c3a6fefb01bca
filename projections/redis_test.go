package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/genesys/tokencache"
	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// redisFixture adds the test's Redis (and key prefix) to a fixture.
type redisFixture struct {
	*fixture
	rdb    redis.UniversalClient
	prefix string
	keys   projections.Keys
}

func newRedisFixture(t testing.TB) *redisFixture {
	t.Helper()
	rdb, prefix := testenv.NewRedis(t)
	return &redisFixture{fixture: newFixture(t), rdb: rdb, prefix: prefix, keys: projections.Keys{Prefix: prefix}}
}

// projector returns a Redis projector writing through client (the test's own when nil).
func (f *redisFixture) projector(client redis.UniversalClient) *projections.RedisTenants {
	f.t.Helper()
	if client == nil {
		client = f.rdb
	}
	p, err := projections.NewRedisTenants(client, f.tenants, projections.RedisConfig{Prefix: f.prefix, Log: testkit.Logger(), ResetBatch: 7})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// get returns the context stored under key, if any.
func (f *redisFixture) get(key string) (projections.Context, bool) {
	f.t.Helper()
	raw, err := f.rdb.Get(context.Background(), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return projections.Context{}, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if strings.Contains(string(raw), "ciphertext") || strings.Contains(string(raw), "****") {
		f.t.Fatalf("secret material in %s: %s", key, raw)
	}
	var c projections.Context
	if err := json.Unmarshal(raw, &c); err != nil {
		f.t.Fatalf("decode %s: %v", key, err)
	}
	return c, true
}

func (f *redisFixture) exists(key string) bool {
	f.t.Helper()
	n, err := f.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return n == 1
}

// pointsAt reports whether key holds tenant id at version v.
func (f *redisFixture) pointsAt(key string, id domain.TenantID, v domain.Version) bool {
	c, ok := f.get(key)
	return ok && c.TenantID == id && c.Version == v
}

func TestRedisKeysFollowTheTenantLifecycle(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	r := f.runner(fastRunner)
	start(t, r, f.projector(nil))
	ctx := context.Background()
	const wait = 20 * time.Second

	a := f.create("Acme")
	f.exec(a, func(t *domain.Tenant) error {
		return errors.Join(
			t.LinkWABA(domain.WABALinked{WABAID: "waba-1", PhoneNumberID: "p1", DisplayPhoneNumber: "+1 555 0001"}),
			t.LinkWABA(domain.WABALinked{WABAID: "waba-1", PhoneNumberID: "p2", DisplayPhoneNumber: "+1 555 0002"}),
			t.SetGenesysCredentials("client-1", "mypurecloud.com", secret("s3cret-one")),
			t.LinkGenesysIntegration("int-1", &domain.SecretRef{Ciphertext: "ciphertext-wh", Hint: "****"}),
			t.StoreWhatsAppToken(secret("wa-token"), nil, "manual"))
	})
	st := f.exec(a, func(*domain.Tenant) error { return nil })
	testkit.Until(t, wait, "keys of the new tenant", func() bool {
		return f.pointsAt(f.keys.Tenant(a), a, st.Version) && f.pointsAt(f.keys.Phone("p2"), a, st.Version) &&
			f.pointsAt(f.keys.Integration("int-1"), a, st.Version)
	})
	c, _ := f.get(f.keys.Phone("p2"))
	if c.Name != "Acme" || c.Status != domain.StatusActive || c.WhatsApp == nil || c.WhatsApp.PhoneNumberID != "p2" ||
		c.WhatsApp.WABAID != "waba-1" || c.WhatsApp.DisplayPhoneNumber != "+1 555 0002" || len(c.WhatsApp.PhoneNumbers) != 2 ||
		c.Genesys == nil || c.Genesys.ClientID != "client-1" || c.Genesys.Region != "mypurecloud.com" ||
		c.Genesys.IntegrationID != "int-1" || c.RateLimit == nil || c.RateLimit.PerSecond != 10 {
		t.Fatalf("phone context = %+v", c)
	}
	if c, _ := f.get(f.keys.Tenant(a)); c.WhatsApp == nil || c.WhatsApp.PhoneNumberID != "p1" {
		t.Fatalf("tenant context should describe the first number: %+v", c.WhatsApp)
	}

	// Cached tokens: a rotation drops the Genesys one fetched before it only.
	f.rdb.Set(ctx, tokencache.TokenKey(f.prefix, string(a)), `{"fetchedAt":1}`, 0)
	f.rdb.Set(ctx, f.keys.WhatsAppToken(a), "cached", 0)
	st = f.exec(a, func(t *domain.Tenant) error {
		return t.SetGenesysCredentials("client-2", "mypurecloud.de", secret("s3cret-two"))
	})
	testkit.Until(t, wait, "rotation projected", func() bool { return f.pointsAt(f.keys.Tenant(a), a, st.Version) })
	if f.exists(tokencache.TokenKey(f.prefix, string(a))) || !f.exists(f.keys.WhatsAppToken(a)) {
		t.Fatal("after CredentialsRotated token:genesys must be gone and token:whatsapp kept")
	}
	// A token fetched with the new credentials survives the rotation's projection.
	rot := f.create("Bravo")
	f.rdb.Set(ctx, tokencache.TokenKey(f.prefix, string(rot)), fmt.Sprintf(`{"fetchedAt":%d}`, time.Now().Add(time.Hour).UnixMilli()), 0)
	stRot := f.exec(rot, func(t *domain.Tenant) error {
		if err := t.SetGenesysCredentials("b-1", "mypurecloud.de", secret("b-secret-one")); err != nil {
			return err
		}
		return t.SetGenesysCredentials("b-2", "mypurecloud.de", secret("b-secret-two"))
	})
	testkit.Until(t, wait, "rotation of Bravo projected", func() bool { return f.pointsAt(f.keys.Tenant(rot), rot, stRot.Version) })
	if !f.exists(tokencache.TokenKey(f.prefix, string(rot))) {
		t.Fatal("a token fetched after the rotation was dropped")
	}

	// Unlink a number, replace the integration, suspend.
	st = f.exec(a, func(t *domain.Tenant) error {
		return errors.Join(t.UnlinkWABA("p1"), t.LinkGenesysIntegration("int-2", nil), t.Suspend("unpaid"))
	})
	testkit.Until(t, wait, "unlink and integration change", func() bool {
		return f.pointsAt(f.keys.Integration("int-2"), a, st.Version) && !f.exists(f.keys.Phone("p1")) &&
			!f.exists(f.keys.Integration("int-1"))
	})
	if c, _ := f.get(f.keys.Phone("p2")); c.Status != domain.StatusSuspended || c.Version != st.Version {
		t.Fatalf("suspended tenant's lookup = %+v", c)
	}

	// Another tenant takes the released number; then the first is deleted.
	b := f.create("Beta")
	stB := f.exec(b, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "waba-9", PhoneNumberID: "p1"})
	})
	f.rdb.Set(ctx, tokencache.TokenKey(f.prefix, string(a)), "cached", 0)
	st = f.exec(a, func(t *domain.Tenant) error { return t.Delete("closed") })
	testkit.Until(t, wait, "deletion projected", func() bool {
		return !f.exists(f.keys.Tenant(a)) && !f.exists(f.keys.Phone("p2")) && !f.exists(f.keys.Integration("int-2"))
	})
	if f.exists(tokencache.TokenKey(f.prefix, string(a))) || f.exists(f.keys.WhatsAppToken(a)) {
		t.Fatal("the deleted tenant's cached tokens are still there")
	}
	if !f.pointsAt(f.keys.Phone("p1"), b, stB.Version) {
		t.Fatal("the other tenant's number was touched by the deletion")
	}
	if s := status(t, r, projections.RedisTenantsName); s.Position != f.head() {
		t.Fatalf("checkpoint %d, head %d", s.Position, f.head())
	}
}

func TestRedisOutageCatchesUpWithoutSkipping(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	proxy, client := proxiedRedis(t)
	r := f.runner(fastRunner)
	start(t, r, f.projector(client))

	ids := make([]domain.TenantID, 0, 12)
	for range 4 {
		ids = append(ids, f.create("before"))
	}
	testkit.Until(t, 20*time.Second, "first keys", func() bool {
		return status(t, r, projections.RedisTenantsName).Position == f.head()
	})

	proxy.Cut()
	for i := range 8 {
		id := f.create("during")
		ids = append(ids, id)
		f.exec(id, func(t *domain.Tenant) error {
			return t.LinkWABA(domain.WABALinked{WABAID: "w", PhoneNumberID: "outage-" + string(id[len(id)-8:]) + string(rune('a'+i))})
		})
	}
	testkit.Until(t, 20*time.Second, "the outage noticed", func() bool {
		return status(t, r, projections.RedisTenantsName).LastError != ""
	})
	if s := status(t, r, projections.RedisTenantsName); s.Position == f.head() {
		t.Fatal("checkpoint advanced while Redis was unreachable")
	}
	tcpproxy.MustRestore(t, proxy)

	testkit.Until(t, 30*time.Second, "caught up after the outage", func() bool {
		s := status(t, r, projections.RedisTenantsName)
		return s.Position == f.head() && s.LastError == ""
	})
	for _, id := range ids {
		st, err := f.tenants.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !f.pointsAt(f.keys.Tenant(id), id, st.Version) {
			t.Fatalf("tenant %s missing or stale in Redis after the outage", id)
		}
		for _, ph := range st.PhoneNumberIDs() {
			if !f.pointsAt(f.keys.Phone(ph), id, st.Version) {
				t.Fatalf("phone %s of %s missing after the outage", ph, id)
			}
		}
	}
}

func TestRedisDataLossIsDetectedAndReplayed(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	r := f.runner(fastRunner)
	start(t, r, f.projector(nil))
	id := f.create("survivor")
	st := f.exec(id, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "w", PhoneNumberID: "loss-" + string(id)})
	})
	testkit.Until(t, 20*time.Second, "keys", func() bool { return f.pointsAt(f.keys.Phone("loss-"+string(id)), id, st.Version) })

	// Redis restarts empty: every key of this deployment is gone.
	ctx := context.Background()
	iter := f.rdb.Scan(ctx, 0, f.prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		f.rdb.Del(ctx, iter.Val())
	}
	if iter.Err() != nil {
		t.Fatal(iter.Err())
	}
	testkit.Until(t, 20*time.Second, "keys replayed after the loss", func() bool {
		return f.pointsAt(f.keys.Phone("loss-"+string(id)), id, st.Version) && f.pointsAt(f.keys.Tenant(id), id, st.Version)
	})
	if s := status(t, r, projections.RedisTenantsName); s.Generation != 1 {
		t.Fatalf("generation = %d, want 1 reset", s.Generation)
	}
}
