package tokencache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"tenant-service/genesys"
)

// Fetcher gets a fresh token from Genesys Cloud; *Client is one. It must be
// safe for concurrent use.
type Fetcher interface {
	FetchToken(ctx context.Context, region, clientID, clientSecret string) (genesys.Token, error)
}

// Sealer encrypts values bound to a tenant and a field name, and decrypts
// them. The service's vault satisfies it. It must be safe for concurrent use.
type Sealer interface {
	Seal(ctx context.Context, tenantID, field, plaintext string) (string, error)
	Open(ctx context.Context, tenantID, field, ciphertext string) (string, error)
}

// ProviderConfig configures a Provider. Every field has a default.
type ProviderConfig struct {
	// KeyPrefix starts every Redis key (REDIS_KEY_PREFIX). Default "".
	KeyPrefix string
	// ExpiryMargin: a token is served (and kept in Redis) until this long
	// before it expires. A token that lives less than twice the margin
	// (Genesys allows 300 s) is served for the first half of its life
	// instead, so callers always get at least half of it; one that lives
	// under 2 s is not cached. Default 5 minutes.
	ExpiryMargin time.Duration
	// RefusalTTL is how long a refusal (HTTP 400/401/403) of a set of
	// credentials is answered from the cache. New credentials are tried at
	// once regardless. Default 30 s.
	RefusalTTL time.Duration
	// FailureTTL is the same for other failures (no answer, 429, 5xx): just
	// long enough for the requests waiting on the refresh to share it.
	// Default 2 s.
	FailureTTL time.Duration
	// LockTTL bounds how long a replica holds a tenant's refresh lock; it
	// must exceed a token request (the Client's 10 s timeout). Default 15 s.
	LockTTL time.Duration
	// PollInterval is how often a request waiting on another replica's
	// refresh looks at the cache. Default 50 ms.
	PollInterval time.Duration
	// RefreshTimeout bounds one refresh, waiting for another replica
	// included. Default 30 s.
	RefreshTimeout time.Duration
	// RedisTimeout bounds each Redis command. Default 1 s.
	RedisTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives warnings (Redis trouble). Default slog.Default().
	Logger *slog.Logger
}

func (c *ProviderConfig) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ExpiryMargin, 5*time.Minute)
	def(&c.RefusalTTL, 30*time.Second)
	def(&c.FailureTTL, 2*time.Second)
	def(&c.LockTTL, 15*time.Second)
	def(&c.PollInterval, 50*time.Millisecond)
	def(&c.RefreshTimeout, 30*time.Second)
	def(&c.RedisTimeout, time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem with the configuration, after defaults.
func (c ProviderConfig) Validate() error {
	c.setDefaults()
	var errs []error
	for name, d := range map[string]time.Duration{"expiry margin": c.ExpiryMargin, "refusal TTL": c.RefusalTTL,
		"failure TTL": c.FailureTTL, "lock TTL": c.LockTTL, "poll interval": c.PollInterval,
		"refresh timeout": c.RefreshTimeout, "redis timeout": c.RedisTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("genesys: %s must not be negative", name))
		}
	}
	if c.RefreshTimeout <= c.LockTTL {
		errs = append(errs, errors.New("genesys: refresh timeout must exceed the lock TTL"))
	}
	return errors.Join(errs...)
}

// Provider hands out cached Genesys tokens per tenant. It is safe for
// concurrent use; several Providers (replicas) may share one Redis.
type Provider struct {
	rdb     redis.UniversalClient
	fetcher Fetcher
	sealer  Sealer
	cfg     ProviderConfig
	log     *slog.Logger
	group   singleflight.Group

	mu   sync.Mutex
	memo map[string]memoEntry // tenantID → last result, used only when Redis fails
}

// NewProvider returns a Provider caching in rdb the tokens fetcher gets,
// sealed by sealer.
func NewProvider(rdb redis.UniversalClient, fetcher Fetcher, sealer Sealer, cfg ProviderConfig) (*Provider, error) {
	var errs []error
	if rdb == nil {
		errs = append(errs, errors.New("genesys: redis client is required"))
	}
	if fetcher == nil {
		errs = append(errs, errors.New("genesys: fetcher is required"))
	}
	if sealer == nil {
		errs = append(errs, errors.New("genesys: sealer is required"))
	}
	if err := errors.Join(append(errs, cfg.Validate())...); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Provider{rdb: rdb, fetcher: fetcher, sealer: sealer, cfg: cfg, log: cfg.Logger, memo: map[string]memoEntry{}}, nil
}

// ErrIncompleteCredentials reports credentials with an empty field.
var ErrIncompleteCredentials = errors.New("genesys: incomplete credentials")

// Token returns a valid token for the tenant's credentials: from the cache
// when it holds one for these credentials, else from Genesys with one
// refresh per tenant at a time across all replicas. A refusal is an *Error
// (Cached when it was answered from the failure cache). ExpiresIn is the
// token's remaining lifetime in seconds.
func (p *Provider) Token(ctx context.Context, creds genesys.Credentials) (genesys.Token, error) {
	if creds.TenantID == "" || creds.Region == "" || creds.ClientID == "" || creds.ClientSecret == "" {
		return genesys.Token{}, ErrIncompleteCredentials
	}
	fp := fingerprint(creds)
	if hit, _ := p.lookup(ctx, creds.TenantID, fp); hit != nil {
		return hit.tok, hit.err
	}
	ch := p.group.DoChan(creds.TenantID+"\x00"+fp, func() (any, error) {
		// Detached from the first caller: the others share this refresh.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.RefreshTimeout)
		defer cancel()
		return p.refresh(rctx, creds, fp)
	})
	select {
	case <-ctx.Done():
		return genesys.Token{}, fmt.Errorf("genesys token for tenant %s: %w", creds.TenantID, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return genesys.Token{}, r.Err
		}
		return r.Val.(genesys.Token), nil
	}
}

// Invalidate drops the tenant's cached token or failure, here and in Redis.
// Call it on CredentialsRotated, TenantDeleted and on a 401 from Genesys.
func (p *Provider) Invalidate(ctx context.Context, tenantID string) error {
	p.mu.Lock()
	delete(p.memo, tenantID)
	p.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	defer cancel()
	if err := p.rdb.Del(rctx, p.tokenKey(tenantID)).Err(); err != nil {
		return fmt.Errorf("invalidate genesys token of tenant %s: %w", tenantID, err)
	}
	return nil
}

// Forget drops what this process remembers of the tenant's token (the
// fallback used while Redis is down), without touching Redis: for a replica
// that learns of a deletion or rotation made by another one.
func (p *Provider) Forget(tenantID string) {
	p.mu.Lock()
	delete(p.memo, tenantID)
	p.mu.Unlock()
}

func (p *Provider) tokenKey(tenantID string) string { return TokenKey(p.cfg.KeyPrefix, tenantID) }
