package tokencache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/genesys/genesystest"
	"tenant-service/genesys/tokencache"
	"tenant-service/internal/testenv"
)

func TestColdBurstMakesOneCall(t *testing.T) {
	e := newEnv(t, genesystest.Config{Delay: 200 * time.Millisecond})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	seen := burst(t, 200, []*tokencache.Provider{p}, e.creds)
	if n := e.fake.Calls(); n != 1 {
		t.Errorf("calls to Genesys = %d, want 1", n)
	}
	if len(seen) != 1 || seen[e.fake.Issued()[0]] != 200 {
		t.Errorf("tokens handed out: %v", seen)
	}
}

func TestTwoReplicasShareOneRefresh(t *testing.T) {
	e := newEnv(t, genesystest.Config{Delay: 200 * time.Millisecond})
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	other := redis.NewClient(opts)
	t.Cleanup(func() { other.Close() })
	replicas := []*tokencache.Provider{
		e.provider(t, nil, tokencache.ProviderConfig{}),
		e.provider(t, other, tokencache.ProviderConfig{}),
	}
	seen := burst(t, 200, replicas, e.creds)
	if n := e.fake.Calls(); n != 1 {
		t.Errorf("calls to Genesys = %d, want 1", n)
	}
	if len(seen) != 1 {
		t.Errorf("replicas handed out %d different tokens", len(seen))
	}
}

func TestWarmCacheMakesNoCall(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	first, err := e.provider(t, nil, tokencache.ProviderConfig{}).Token(context.Background(), e.creds)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	// A new Provider has an empty process: only Redis can answer it.
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	e.clock.Advance(time.Hour)
	for range 20 {
		tok, err := p.Token(context.Background(), e.creds)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if tok.AccessToken != first.AccessToken || tok.TokenType != "bearer" {
			t.Fatalf("cached token = %+v, want %s", tok, first.AccessToken)
		}
		if want := 86400 - 3600; tok.ExpiresIn > want || tok.ExpiresIn < want-5 {
			t.Fatalf("remaining lifetime = %d s, want about %d", tok.ExpiresIn, want)
		}
	}
	if n := e.fake.Calls(); n != 1 {
		t.Errorf("calls to Genesys = %d, want 1", n)
	}
}

func TestCacheTTLFollowsExpiresIn(t *testing.T) {
	cases := []struct {
		expiresIn int
		wantTTL   time.Duration // 0: not cached
	}{
		{3600, 3300 * time.Second}, // expires_in − 5 min
		{86400, 86100 * time.Second},
		{300, 150 * time.Second}, // short-lived: half its life
		{1, 0},
	}
	for _, tc := range cases {
		e := newEnv(t, genesystest.Config{ExpiresIn: tc.expiresIn})
		p := e.provider(t, nil, tokencache.ProviderConfig{})
		if _, err := p.Token(context.Background(), e.creds); err != nil {
			t.Fatalf("token: %v", err)
		}
		ttl, err := e.rdb.PTTL(context.Background(), e.tokenKey()).Result()
		if err != nil {
			t.Fatalf("pttl: %v", err)
		}
		if tc.wantTTL == 0 {
			if ttl >= 0 {
				t.Errorf("expires_in %d: cached with TTL %v", tc.expiresIn, ttl)
			}
			if _, err := p.Token(context.Background(), e.creds); err != nil || e.fake.Calls() != 2 {
				t.Errorf("expires_in %d: uncached token was not fetched again (%d calls, %v)", tc.expiresIn, e.fake.Calls(), err)
			}
			continue
		}
		if ttl > tc.wantTTL || ttl < tc.wantTTL-10*time.Second {
			t.Errorf("expires_in %d: TTL %v, want %v", tc.expiresIn, ttl, tc.wantTTL)
		}
	}
}

func TestCachedValueIsSealed(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	tok, err := e.provider(t, nil, tokencache.ProviderConfig{}).Token(context.Background(), e.creds)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	raw, err := e.rdb.Get(context.Background(), e.tokenKey()).Result()
	if err != nil {
		t.Fatalf("the token is not under %s: %v", e.tokenKey(), err)
	}
	if strings.Contains(raw, tok.AccessToken) || strings.Contains(raw, genesystest.ClientSecret) {
		t.Errorf("cached value holds a plaintext secret: %s", raw)
	}
	if !strings.Contains(raw, "test:v1:") {
		t.Errorf("cached value is not the sealer's output: %s", raw)
	}
}

func TestInvalidate(t *testing.T) {
	e := newEnv(t, genesystest.Config{})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	ctx := context.Background()
	first, _ := p.Token(ctx, e.creds)
	if err := p.Invalidate(ctx, e.creds.TenantID); err != nil {
		t.Fatalf("invalidate: %v", err)
	}
	second, err := p.Token(ctx, e.creds)
	if err != nil || second.AccessToken == first.AccessToken || e.fake.Calls() != 2 {
		t.Errorf("after Invalidate: %d calls, same token %v, err %v", e.fake.Calls(), second.AccessToken == first.AccessToken, err)
	}
}

func TestStaleTokenIsRefreshed(t *testing.T) {
	e := newEnv(t, genesystest.Config{ExpiresIn: 3600})
	p := e.provider(t, nil, tokencache.ProviderConfig{})
	first, _ := p.Token(context.Background(), e.creds)
	// Within 5 minutes of expiry the token is no longer handed out.
	e.clock.Advance(3301 * time.Second)
	second, err := p.Token(context.Background(), e.creds)
	if err != nil || second.AccessToken == first.AccessToken || e.fake.Calls() != 2 {
		t.Errorf("stale token: %d calls, same token %v, err %v", e.fake.Calls(), second.AccessToken == first.AccessToken, err)
	}
}
