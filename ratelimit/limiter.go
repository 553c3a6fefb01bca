package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

// ErrUnavailable is in the chain of the error a fail-closed Limiter returns
// when Redis cannot be asked.
var ErrUnavailable = errors.New("rate limiter unavailable")

// errSkipped is the cause while the breaker keeps calls away from Redis.
var errSkipped = errors.New("redis skipped after repeated failures")

// Limiter checks requests against Redis token buckets. Safe for concurrent use.
type Limiter struct {
	rdb redis.UniversalClient
	cfg Config
	brk *breaker
	// leases hold tokens reserved in advance for high limits.
	leases *leases
	calls  atomic.Int64 // script calls sent to Redis
	// refusedKeys and refusedTenants count requests refused (429), by the
	// API key's limit and by the tenant's.
	refusedKeys, refusedTenants atomic.Uint64
	// direct: the client honours context deadlines itself, so calls need no
	// goroutine of their own.
	direct bool
}

// New returns a Limiter on rdb. Config.Timeout holds whatever the client's
// options; a client with ContextTimeoutEnabled is cheaper (no goroutine per
// call) and frees its connection at the timeout.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rate limiter config: %w", err)
	}
	if rdb == nil {
		return nil, errors.New("rate limiter: a Redis client is required")
	}
	cfg = cfg.withDefaults()
	l := &Limiter{rdb: rdb, cfg: cfg, leases: newLeases()}
	switch c := rdb.(type) {
	case *redis.Client:
		l.direct = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		l.direct = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		l.direct = c.Options().ContextTimeoutEnabled
	}
	l.brk = &breaker{threshold: cfg.FailureThreshold, cooldown: cfg.Cooldown, now: cfg.Now,
		onChange: l.logChange}
	return l, nil
}

// Allow takes one request's token from the bucket named key (from APIKey or
// Tenant) under limit lim. The error is nil unless the caller's context ended
// or, with FailClosed, Redis could not be asked (a KindUnavailable domain
// error wrapping ErrUnavailable). Failing open, the Decision is Allowed and
// Unchecked. An unlimited lim allows without calling Redis.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if lim.Unlimited() {
		return Decision{Allowed: true}, nil
	}
	now := l.cfg.Now()
	if left, ok := l.leases.take(key, lim, now); ok {
		return Decision{Allowed: true, Limit: lim, Remaining: left}, nil
	}
	if wait, ok := l.leases.refused(key, lim, now); ok {
		// Refused by Redis moments ago: no token exists before then for anyone.
		return Decision{Limit: lim, RetryAfter: wait}, nil
	}
	if !l.brk.allow() {
		return l.unavailable(lim, errSkipped)
	}
	if n := lim.leaseSize(); n > 1 {
		// Take a lease's worth in one call and spend the rest locally.
		d, err := l.check(ctx, key, lim, n)
		if err != nil || d.Unchecked {
			return d, err
		}
		if d.Allowed {
			l.leases.grant(key, lim, n-1, l.cfg.Now())
			return d, nil
		}
		// Near the limit a whole lease does not fit: ask for one token.
	}
	d, err := l.check(ctx, key, lim, 1)
	if err == nil && !d.Allowed && !d.Unchecked {
		l.leases.refuse(key, lim, now.Add(d.RetryAfter))
	}
	return d, err
}

// check runs the script for cost tokens and records the outcome in the breaker.
func (l *Limiter) check(ctx context.Context, key string, lim Limit, cost int) (Decision, error) {
	reply, err := l.run(ctx, key, lim, cost)
	if err != nil {
		if ctx.Err() != nil {
			l.brk.abandon()
			return Decision{}, fmt.Errorf("rate limit %s: %w", key, ctx.Err())
		}
		l.brk.failure(err)
		return l.unavailable(lim, err)
	}
	d, err := parse(reply, lim)
	if err != nil {
		l.brk.failure(err)
		return l.unavailable(lim, err)
	}
	l.brk.success()
	return d, nil
}

// run calls the script under the per-call timeout. Unless the client honours
// context deadlines itself, the call runs in a goroutine of its own so the
// timeout holds anyway (the goroutine ends at the client's read timeout).
func (l *Limiter) run(ctx context.Context, key string, lim Limit, cost int) (any, error) {
	l.calls.Add(1)
	cctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	call := func() (any, error) {
		return gcra.Run(cctx, l.rdb, []string{l.cfg.Prefix + key}, args(lim, cost)...).Result()
	}
	if l.direct {
		return call()
	}
	type result struct {
		reply any
		err   error
	}
	done := make(chan result, 1)
	go func() {
		reply, err := call()
		done <- result{reply, err}
	}()
	select {
	case r := <-done:
		return r.reply, r.err
	case <-cctx.Done():
		return nil, cctx.Err()
	}
}

// AllowKey checks an API key, by its identity, against its role's limit.
func (l *Limiter) AllowKey(ctx context.Context, identity, role string) (Decision, error) {
	d, err := l.Allow(ctx, APIKey(identity), l.RoleLimit(role))
	if err == nil && !d.Allowed {
		l.refusedKeys.Add(1)
	}
	return d, err
}

// AllowTenant checks a tenant against its own limit (settings.rateLimit, may
// be nil) or, without one, Config.TenantLimit.
func (l *Limiter) AllowTenant(ctx context.Context, id domain.TenantID, own *domain.RateLimit) (Decision, error) {
	lim, ok := FromDomain(own)
	if !ok {
		lim = l.cfg.TenantLimit
	}
	d, err := l.Allow(ctx, Tenant(id), lim)
	if err == nil && !d.Allowed {
		l.refusedTenants.Add(1)
	}
	return d, err
}

// Refusals returns how many requests were refused since start: by API key
// limits and by tenant limits.
func (l *Limiter) Refusals() (keys, tenants uint64) {
	return l.refusedKeys.Load(), l.refusedTenants.Load()
}

// CheckKey is AllowKey as an error: nil when the request may proceed, else
// a domain error of kind KindRateLimited with RetryAfter (or the limiter's
// own failure when it fails closed).
func (l *Limiter) CheckKey(ctx context.Context, identity, role string) error {
	d, err := l.AllowKey(ctx, identity, role)
	if err != nil {
		return err
	}
	return d.Err()
}

// CheckTenant is AllowTenant as an error, like CheckKey.
func (l *Limiter) CheckTenant(ctx context.Context, id domain.TenantID, own *domain.RateLimit) error {
	d, err := l.AllowTenant(ctx, id, own)
	if err != nil {
		return err
	}
	return d.Err()
}

// RoleLimit returns the per-key limit of a role: its RoleLimits entry or
// KeyLimit.
func (l *Limiter) RoleLimit(role string) Limit {
	if lim, ok := l.cfg.RoleLimits[role]; ok {
		return lim
	}
	return l.cfg.KeyLimit
}

// RedisCalls returns how many checks were sent to Redis so far.
func (l *Limiter) RedisCalls() int64 { return l.calls.Load() }

// Degraded reports whether the Limiter is skipping Redis after repeated
// failures (for health reports and metrics).
func (l *Limiter) Degraded() bool { return l.brk.isOpen() }

// unavailable answers a check Redis could not make.
func (l *Limiter) unavailable(lim Limit, cause error) (Decision, error) {
	if l.cfg.FailClosed {
		return Decision{}, &domain.Error{Kind: domain.KindUnavailable, Code: "rate-limiter-unavailable",
			Detail: "the rate limiter is unavailable", Err: fmt.Errorf("%w: %w", ErrUnavailable, cause)}
	}
	return Decision{Allowed: true, Limit: lim, Unchecked: true}, nil
}

// logChange logs once when Redis starts failing and once when it recovers.
func (l *Limiter) logChange(open bool, cause error) {
	if open {
		action := "allowing requests unchecked"
		if l.cfg.FailClosed {
			action = "refusing requests with 503"
		}
		l.cfg.Log.Warn("rate limiter: redis failing, "+action,
			slog.Int("failures", l.cfg.FailureThreshold), slog.Duration("retryIn", l.cfg.Cooldown),
			slog.String("error", cause.Error()))
		return
	}
	l.cfg.Log.Info("rate limiter: redis answering again, limits enforced")
}
