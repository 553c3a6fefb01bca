package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	err := Config{
		KeyLimit:         Limit{PerSecond: domain.MaxRatePerSecond + 1},
		TenantLimit:      Limit{PerSecond: 1, Burst: -1},
		RoleLimits:       map[string]Limit{"admin": {PerSecond: 1, Burst: domain.MaxRateBurst + 1}},
		Timeout:          -time.Second,
		FailureThreshold: -1,
		Cooldown:         -time.Second,
	}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"key limit", "tenant limit", "role admin", "timeout", "failure threshold", "cooldown"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := New(redis.NewClient(&redis.Options{}), Config{Timeout: -1}); err == nil {
		t.Error("New accepted an invalid config")
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New accepted a nil client")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	l, rdb, prefix := newLimiter(t, Config{RoleLimits: map[string]Limit{"admin": {PerSecond: 5, Burst: 9}}})
	if got := l.RoleLimit("service"); got != DefaultKeyLimit {
		t.Errorf("service key limit %+v, want the default %+v", got, DefaultKeyLimit)
	}
	if got := l.RoleLimit("admin"); got != (Limit{PerSecond: 5, Burst: 9}) {
		t.Errorf("admin key limit %+v", got)
	}
	// Without TenantLimit, a tenant without its own limit is not limited.
	for range 3 {
		d, err := l.AllowTenant(context.Background(), "t-free", nil)
		if err != nil || !d.Allowed || d.Limit != (Limit{}) {
			t.Fatalf("tenant without a limit: %+v, %v", d, err)
		}
	}
	if n, _ := rdb.Exists(context.Background(), prefix+Tenant("t-free")).Result(); n != 0 {
		t.Error("a tenant without a limit got a bucket")
	}
	// A negative key limit turns per-key limiting off.
	off, _, _ := newLimiter(t, Config{KeyLimit: Limit{PerSecond: -1}})
	if d, err := off.AllowKey(context.Background(), "admin:00000000", "admin"); err != nil || !d.Allowed || d.Limit != (Limit{}) {
		t.Errorf("key limiting off: %+v, %v", d, err)
	}
}

func TestDecisionHelpers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		retry time.Duration
		want  int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + time.Millisecond, 2}, {90 * time.Second, 90}}
	for _, c := range cases {
		if got := (Decision{RetryAfter: c.retry}).RetryAfterSeconds(); got != c.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", c.retry, got, c.want)
		}
	}
	if err := (Decision{Allowed: true}).Err(); err != nil {
		t.Errorf("allowed decision has error %v", err)
	}
	de, ok := domain.AsError(Decision{RetryAfter: 2500 * time.Millisecond}.Err())
	if !ok || de.Kind != domain.KindRateLimited || de.Code != "rate-limited" || !strings.Contains(de.Detail, "3 s") {
		t.Errorf("refusal error %+v", de)
	}
	if l, ok := FromDomain(&domain.RateLimit{PerSecond: 3, Burst: 4}); !ok || l != (Limit{PerSecond: 3, Burst: 4}) {
		t.Errorf("FromDomain = %+v, %v", l, ok)
	}
	if _, ok := FromDomain(nil); ok {
		t.Error("FromDomain(nil) reports a limit")
	}
	if APIKey("admin:ab") != "ratelimit:key:admin:ab" || Tenant("t1") != "ratelimit:tenant:t1" {
		t.Errorf("key shapes changed: %s %s", APIKey("admin:ab"), Tenant("t1"))
	}
}
