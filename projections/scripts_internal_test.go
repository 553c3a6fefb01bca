package projections

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/internal/testenv"
)

func TestContextScriptsGuard(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	key := prefix + "tenant:phone:guard"
	versions := Keys{Prefix: prefix}.versions(RedisTenantsName)
	set := func(tenant string, version int64, mode string) int64 {
		t.Helper()
		raw, _ := json.Marshal(map[string]any{"tenantId": tenant, "version": version, "mode": mode})
		var cmd *redis.Cmd
		switch mode {
		case "project":
			cmd = projectContextScript.Run(ctx, rdb, []string{key}, tenant, version, raw)
		case "fill":
			cmd = fillScript.Run(ctx, rdb, []string{key, versions}, tenant, version, raw, 60000)
		case "applied": // the projector wrote this version of the tenant, and removed the key
			if err := rdb.HSet(ctx, versions, tenant, version).Err(); err != nil {
				t.Fatal(err)
			}
			return int64(rdb.Del(ctx, key).Val())
		}
		n, err := cmd.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	holder := func() (string, int64, time.Duration) {
		t.Helper()
		var v struct {
			TenantID string `json:"tenantId"`
			Version  int64  `json:"version"`
		}
		raw, err := rdb.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return "", 0, 0
		}
		if err != nil || json.Unmarshal(raw, &v) != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return v.TenantID, v.Version, rdb.PTTL(ctx, key).Val()
	}
	steps := []struct {
		name        string
		tenant      string
		version     int64
		mode        string
		wrote       int64
		wantTenant  string
		wantVersion int64
		expires     bool
	}{
		{"fill a missing key, with a TTL", "a", 3, "fill", 1, "a", 3, true},
		{"fill never replaces the same version", "a", 3, "fill", 0, "a", 3, true},
		{"project makes the filled version permanent", "a", 3, "project", 1, "a", 3, false},
		{"project skips the same permanent version", "a", 3, "project", 0, "a", 3, false},
		{"project never goes back", "a", 2, "project", 0, "a", 3, false},
		{"fill never goes back", "a", 1, "fill", 0, "a", 3, false},
		{"fill never takes another tenant's key", "b", 9, "fill", 0, "a", 3, false},
		{"project moves the key to the current owner", "b", 1, "project", 1, "b", 1, false},
		{"fill upgrades the same tenant", "b", 2, "fill", 1, "b", 2, true},
		{"the projector writes b v4 without this key", "b", 4, "applied", 1, "", 0, false},
		{"fill never brings back a key the projector removed", "b", 3, "fill", 0, "", 0, false},
		{"fill of the version the projector wrote is fine", "b", 4, "fill", 1, "b", 4, true},
	}
	for _, s := range steps {
		if got := set(s.tenant, s.version, s.mode); got != s.wrote {
			t.Fatalf("%s: wrote = %d, want %d", s.name, got, s.wrote)
		}
		tenant, version, ttl := holder()
		if tenant != s.wantTenant || version != s.wantVersion || (ttl > 0) != s.expires {
			t.Fatalf("%s: key holds %s v%d ttl %v", s.name, tenant, version, ttl)
		}
	}

	// Compare-and-delete removes the key only for its owner.
	set("a", 3, "project")
	set("b", 5, "project")
	for _, who := range []string{"a", "b"} {
		if err := deleteIfOwnerScript.Run(ctx, rdb, []string{key}, who).Err(); err != nil {
			t.Fatal(err)
		}
		tenant, _, _ := holder()
		if who == "a" && tenant != "b" || who == "b" && tenant != "" {
			t.Fatalf("after delete by %s the key holds %q", who, tenant)
		}
	}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	var mu sync.Mutex
	var changes []bool
	b := &breaker{threshold: 2, cooldown: time.Second, now: func() time.Time { return now },
		onChange: func(open bool) { mu.Lock(); changes = append(changes, open); mu.Unlock() }}
	b.record(outcomeFailed)
	if !b.allow() {
		t.Fatal("open after one failure; threshold is 2")
	}
	b.record(outcomeFailed)
	if b.allow() {
		t.Fatal("closed after two failures")
	}
	now = now.Add(2 * time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.allow() {
		t.Fatal("a second probe while the first is out")
	}
	b.record(outcomeNeutral) // the probe's caller gave up
	if !b.allow() {
		t.Fatal("no new probe after a neutral outcome")
	}
	b.record(outcomeFailed)
	if b.allow() {
		t.Fatal("a failed probe did not reopen the breaker")
	}
	now = now.Add(2 * time.Second)
	if !b.allow() {
		t.Fatal("no probe after the second cooldown")
	}
	b.record(outcomeOK)
	if !b.allow() || !b.allow() {
		t.Fatal("a successful probe did not close the breaker")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("changes = %v, want [open, closed]", changes)
	}
}
