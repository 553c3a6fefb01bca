package tokencache_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/genesys/genesystest"
	"tenant-service/genesys/tokencache"
	"tenant-service/internal/testkit"
)

func TestRotatedCredentialsFetchAtOnce(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	ctx := context.Background()
	first, err := p.Token(ctx, e.creds)
	if err != nil {
		t.Fatalf("token: %v", err)
	}

	rotated := e.creds
	rotated.ClientID, rotated.ClientSecret, rotated.Version = "rotated-client", "rotated-secret-0123456789", "2"
	e.fake.AddClient(rotated.ClientID, rotated.ClientSecret)
	second, err := p.Token(ctx, rotated)
	if err != nil || second.AccessToken == first.AccessToken || e.fake.Calls() != 2 {
		t.Fatalf("rotated: %d calls, same token %v, err %v", e.fake.Calls(), second.AccessToken == first.AccessToken, err)
	}
	// A new secret without a new version is still a different fingerprint.
	sameVersion := rotated
	sameVersion.ClientSecret = "rotated-again-9876543210"
	e.fake.AddClient(rotated.ClientID, sameVersion.ClientSecret)
	if _, err := p.Token(ctx, sameVersion); err != nil || e.fake.Calls() != 3 {
		t.Errorf("new secret, same version: %d calls, err %v", e.fake.Calls(), err)
	}
}

func TestRefusalIsCachedBriefly(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	p := e.provider(t, nil, tokencache.ProviderConfig{RefusalTTL: 30 * time.Second})
	ctx := context.Background()
	bad := e.creds
	bad.ClientSecret = "wrong-secret-abcdefghijklmnop"

	_, err := p.Token(ctx, bad)
	ge := genesystest.AsError(t, err, genesystest.ClientSecret)
	if ge.HTTPStatus != http.StatusUnauthorized || ge.Code != "invalid_client" || ge.Description != "client authentication failed" || ge.Cached {
		t.Fatalf("refusal = %+v", ge)
	}
	if strings.Contains(err.Error(), bad.ClientSecret) {
		t.Errorf("error %q contains the secret", err)
	}

	// Other replicas and later requests get the refusal without asking.
	_, err = e.provider(t, nil, tokencache.ProviderConfig{}).Token(ctx, bad)
	if ge := genesystest.AsError(t, err, genesystest.ClientSecret); !ge.Cached || ge.Code != "invalid_client" || ge.ContextID == "" || e.fake.Calls() != 1 {
		t.Errorf("cached refusal = %+v after %d calls", ge, e.fake.Calls())
	}
	raw, _ := e.rdb.Get(ctx, e.tokenKey()).Result()
	if strings.Contains(raw, bad.ClientSecret) {
		t.Errorf("cached failure holds the secret: %s", raw)
	}

	// Corrected credentials are tried at once.
	if _, err := p.Token(ctx, e.creds); err != nil || e.fake.Calls() != 2 {
		t.Errorf("corrected credentials: %d calls, err %v", e.fake.Calls(), err)
	}
	// The refusal expires.
	e.clock.Advance(31 * time.Second)
	if _, err := p.Token(ctx, bad); err == nil || e.fake.Calls() != 3 {
		t.Errorf("after the refusal TTL: %d calls, err %v", e.fake.Calls(), err)
	}
}

func TestTransientFailureIsRetriedSoon(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	e.fake.Fail(genesystest.Failure{Status: http.StatusServiceUnavailable, Times: 1})
	p := e.provider(t, nil, tokencache.ProviderConfig{FailureTTL: 2 * time.Second})
	_, err := p.Token(context.Background(), e.creds)
	if ge := genesystest.AsError(t, err, genesystest.ClientSecret); ge.HTTPStatus != http.StatusServiceUnavailable || ge.Refused() {
		t.Fatalf("503 = %+v", ge)
	}
	e.clock.Advance(3 * time.Second)
	if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 2 {
		t.Errorf("retry after a 503: %d calls, err %v", e.fake.Calls(), err)
	}
}

func TestCallerGivingUpDoesNotCancelRefresh(t *testing.T) {
	e := newEnv(t, genesystest.Config{Delay: 300 * time.Millisecond})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Token(ctx, e.creds); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v", err)
	}
	testkit.Until(t, 5*time.Second, "the refresh to finish after its caller left", func() bool {
		return e.rdb.Exists(context.Background(), e.tokenKey()).Val() == 1
	})
	if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 1 {
		t.Errorf("after the background refresh: %d calls, err %v", e.fake.Calls(), err)
	}
}

func TestLockOfADeadReplicaExpires(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	// A replica took the lock and died.
	lockKey := e.tokenKey() + ":lock"
	if err := e.rdb.Set(context.Background(), lockKey, "dead-replica", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 1 {
		t.Errorf("after the dead lock: %d calls, err %v", e.fake.Calls(), err)
	}
	if e.rdb.Exists(context.Background(), lockKey).Val() != 0 {
		t.Error("the lock was not released")
	}
}

func TestRedisDownStillAnswers(t *testing.T) {
	e := newEnv(t, genesystest.Config{Delay: 100 * time.Millisecond})
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { down.Close() })
	p := e.provider(t, down, tokencache.ProviderConfig{})

	seen := burst(t, 50, []*tokencache.Provider{p}, e.creds)
	if len(seen) != 1 || e.fake.Calls() != 1 {
		t.Fatalf("with Redis down: %d calls, tokens %v", e.fake.Calls(), seen)
	}
	// Later requests are served from the process while the token is fresh.
	if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 1 {
		t.Errorf("second request with Redis down: %d calls, err %v", e.fake.Calls(), err)
	}
	bad := e.creds
	bad.ClientSecret = "wrong-secret-abcdefghijklmnop"
	for range 3 {
		if _, err := p.Token(context.Background(), bad); err == nil {
			t.Fatal("bad credentials accepted")
		}
	}
	if e.fake.Calls() != 2 {
		t.Errorf("refusals with Redis down: %d calls, want 2", e.fake.Calls())
	}
	if err := p.Invalidate(context.Background(), e.creds.TenantID); err == nil {
		t.Error("Invalidate with Redis down reported no error")
	}
	if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 3 {
		t.Errorf("after Invalidate with Redis down: %d calls, err %v", e.fake.Calls(), err)
	}
}

func TestProviderValidation(t *testing.T) {
	_, err := tokencache.NewProvider(nil, nil, nil, tokencache.ProviderConfig{LockTTL: time.Minute, RefusalTTL: -1})
	for _, want := range []string{"redis", "fetcher", "sealer", "refusal TTL", "refresh timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewProvider error %v does not mention %s", err, want)
		}
	}
	e := newEnv(t, genesystest.Config{})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	incomplete := e.creds
	incomplete.ClientSecret = ""
	if _, err := p.Token(context.Background(), incomplete); !errors.Is(err, tokencache.ErrIncompleteCredentials) {
		t.Errorf("incomplete credentials: %v", err)
	}
}
