package tokencache_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/genesys"
	"tenant-service/genesys/genesystest"
	"tenant-service/genesys/tokencache"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
)

// testSealer is AES-256-GCM with the tenant and field as associated data, as
// the vault does it.
type testSealer struct{ aead cipher.AEAD }

func newSealer(t testing.TB) *testSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &testSealer{aead: aead}
}

func (s *testSealer) Seal(_ context.Context, tenantID, field, plaintext string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(tenantID+"|"+field))
	return "test:v1:" + base64.StdEncoding.EncodeToString(ct), nil
}

func (s *testSealer) Open(_ context.Context, tenantID, field, ciphertext string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(ciphertext[len("test:v1:"):])
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errors.New("bad ciphertext")
	}
	pt, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(tenantID+"|"+field))
	return string(pt), err
}

// env is one test's fake Genesys, Redis and credentials.
type env struct {
	fake   *genesystest.Server
	rdb    redis.UniversalClient
	prefix string
	sealer *testSealer
	clock  *testkit.Clock
	creds  genesys.Credentials
}

func newEnv(t *testing.T, cfg genesystest.Config) *env {
	t.Helper()
	rdb, prefix := testenv.NewRedis(t)
	e := &env{fake: genesystest.NewServer(t, cfg), rdb: rdb, prefix: prefix, sealer: newSealer(t), clock: testkit.NewClockAt(time.Now()),
		creds: genesys.Credentials{TenantID: testenv.Name("tenant-"), Region: genesystest.Region,
			ClientID: genesystest.ClientID, ClientSecret: genesystest.ClientSecret, Version: "1"}}
	e.fake.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	return e
}

// provider returns a new Provider (a "replica") on the env's Redis prefix.
func (e *env) provider(t *testing.T, rdb redis.UniversalClient, cfg tokencache.ProviderConfig) *tokencache.Provider {
	t.Helper()
	if rdb == nil {
		rdb = e.rdb
	}
	cfg.KeyPrefix = e.prefix
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := tokencache.NewProvider(rdb, genesystest.NewClient(t, e.fake.URL, 0), e.sealer, cfg)
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	return p
}

func (e *env) tokenKey() string { return e.prefix + "token:genesys:" + e.creds.TenantID }

// burst calls Token n times at once and returns the distinct tokens.
func burst(t *testing.T, n int, providers []*tokencache.Provider, creds genesys.Credentials) map[string]int {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := providers[i%len(providers)].Token(context.Background(), creds)
			if err != nil {
				t.Errorf("token: %v", err)
				return
			}
			mu.Lock()
			seen[tok.AccessToken]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return seen
}
