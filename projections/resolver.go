package projections

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

// maxLookupLen bounds a phone-number or integration id worth looking up.
const maxLookupLen = 256

// ResolverConfig tunes a Resolver. Zero or negative fields take their defaults.
type ResolverConfig struct {
	// RedisTimeout bounds each Redis call; PostgreSQL answers after it. Default 75ms.
	RedisTimeout time.Duration
	// BreakerFailures is how many Redis failures in a row make the Resolver
	// skip Redis for BreakerCooldown. Default 3.
	BreakerFailures int
	// BreakerCooldown is how long Redis is skipped before one probe call. Default 2s.
	BreakerCooldown time.Duration
	// RefillTTL is the expiry of a key refilled from PostgreSQL after a miss;
	// the projector makes the key permanent when it writes it. Default 10m.
	RefillTTL time.Duration
	// Now is the circuit breaker's clock. Default time.Now.
	Now func() time.Time
}

// Resolver finds tenant contexts for the handlers: Redis first, PostgreSQL on
// a miss (refilling Redis), PostgreSQL alone while Redis is down. A short
// timeout per Redis call and a circuit breaker keep a down Redis from adding
// latency. It is safe for concurrent use.
type Resolver struct {
	rdb  redis.UniversalClient
	keys Keys
	pg   *Tenants
	log  *slog.Logger
	cfg  ResolverConfig
	cb   *breaker
	// direct: the client honours context deadlines itself, so calls need
	// no goroutine of their own.
	direct bool
}

// NewResolver returns a Resolver. rdb may be nil (PostgreSQL only); prefix is
// REDIS_KEY_PREFIX; log may be nil; cfg is optional (at most one).
//
// The per-call timeout holds whatever the client's options; a client created
// with ContextTimeoutEnabled is cheaper (no goroutine per call) and frees its
// connection at the timeout.
func NewResolver(rdb redis.UniversalClient, prefix string, pg *Tenants, log *slog.Logger, cfg ...ResolverConfig) *Resolver {
	var c ResolverConfig
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.RedisTimeout = positive(c.RedisTimeout, 75*time.Millisecond)
	c.BreakerFailures = positive(c.BreakerFailures, 3)
	c.BreakerCooldown = positive(c.BreakerCooldown, 2*time.Second)
	c.RefillTTL = positive(c.RefillTTL, 10*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{rdb: rdb, keys: Keys{Prefix: prefix}, pg: pg, log: log, cfg: c}
	switch rc := rdb.(type) {
	case *redis.Client:
		r.direct = rc.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		r.direct = rc.Options().ContextTimeoutEnabled
	}
	r.cb = &breaker{threshold: int32(c.BreakerFailures), cooldown: c.BreakerCooldown, now: c.Now,
		onChange: func(open bool) {
			if open {
				log.Warn("redis unavailable; resolving tenants from PostgreSQL", "retry_in", c.BreakerCooldown.String())
			} else {
				log.Info("redis available again for tenant resolution")
			}
		}}
	return r
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// ByPhoneNumber returns the context of the live tenant holding the WhatsApp
// phone number id, or domain.ErrTenantNotFound. A suspended tenant resolves,
// with its status; a deleted one does not.
func (r *Resolver) ByPhoneNumber(ctx context.Context, phoneNumberID string) (Context, error) {
	if phoneNumberID == "" || len(phoneNumberID) > maxLookupLen {
		return Context{}, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Phone(phoneNumberID), phoneNumberID, true, func(ctx context.Context) (domain.State, error) {
		return r.pg.ByPhoneNumber(ctx, phoneNumberID)
	})
}

// ByIntegration returns the context of the live tenant holding the Genesys
// Open Messaging integration id, or domain.ErrTenantNotFound.
func (r *Resolver) ByIntegration(ctx context.Context, integrationID string) (Context, error) {
	if integrationID == "" || len(integrationID) > maxLookupLen {
		return Context{}, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Integration(integrationID), "", true, func(ctx context.Context) (domain.State, error) {
		return r.pg.ByIntegration(ctx, integrationID)
	})
}

// ByTenant returns the tenant's context, or domain.ErrTenantNotFound. A
// deleted tenant comes back with status deleted (from PostgreSQL; it is not
// cached), so callers can tell "gone" from "never existed".
func (r *Resolver) ByTenant(ctx context.Context, id domain.TenantID) (Context, error) {
	if _, err := domain.ParseTenantID(string(id)); err != nil {
		return Context{}, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Tenant(id), "", false, func(ctx context.Context) (domain.State, error) {
		return r.pg.Get(ctx, id)
	})
}

// resolve reads key from Redis, else loads the state from PostgreSQL and
// refills the key. lookup says the key is a phone or integration lookup,
// which a deleted tenant never answers.
func (r *Resolver) resolve(ctx context.Context, key, phone string, lookup bool, load func(context.Context) (domain.State, error)) (Context, error) {
	if c, ok := r.fromRedis(ctx, key); ok && c.Status != domain.StatusDeleted {
		return c, nil
	}
	st, err := load(ctx)
	if err != nil {
		return Context{}, err
	}
	if st.Status == domain.StatusDeleted {
		if lookup {
			return Context{}, domain.ErrTenantNotFound
		}
		return ContextFromState(st, phone), nil
	}
	c := ContextFromState(st, phone)
	r.refill(ctx, key, c)
	return c, nil
}

func (r *Resolver) fromRedis(ctx context.Context, key string) (Context, bool) {
	var raw []byte
	err := r.guard(ctx, func(ctx context.Context) error {
		var err error
		raw, err = r.rdb.Get(ctx, key).Bytes()
		return err
	})
	if err != nil {
		return Context{}, false
	}
	var c Context
	if err := json.Unmarshal(raw, &c); err != nil || c.TenantID == "" {
		r.log.Warn("unreadable tenant context in redis; using PostgreSQL", "key", key)
		return Context{}, false
	}
	return c, true
}

// refill writes a context read from PostgreSQL, version-guarded and with
// RefillTTL, so it never overwrites a newer value the projector wrote.
func (r *Resolver) refill(ctx context.Context, key string, c Context) {
	raw, err := json.Marshal(c)
	if err != nil {
		return
	}
	err = r.guard(ctx, func(ctx context.Context) error {
		return setContextScript.Run(ctx, r.rdb, []string{key}, string(c.TenantID), int64(c.Version), raw,
			"fill", r.cfg.RefillTTL.Milliseconds()).Err()
	})
	if err != nil && !errors.Is(err, errRedisSkipped) {
		r.log.Debug("refill of tenant context failed", "key", key, "error", err)
	}
}

// errRedisSkipped reports a call not sent: no client, or the breaker is open.
var errRedisSkipped = errors.New("redis skipped")

// guard runs fn under the per-call timeout and the circuit breaker. Unless
// the client honours context deadlines, fn runs in its own goroutine so the
// timeout holds anyway; fn's results may be read only when guard returns nil
// or redis.Nil.
func (r *Resolver) guard(ctx context.Context, fn func(context.Context) error) error {
	if r.rdb == nil || !r.cb.allow() {
		return errRedisSkipped
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.RedisTimeout)
	defer cancel()
	var err error
	if r.direct {
		err = fn(cctx)
	} else {
		done := make(chan error, 1)
		go func() { done <- fn(cctx) }()
		select {
		case err = <-done:
		case <-cctx.Done():
			err = cctx.Err()
		}
	}
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.cb.record(outcomeOK)
	case ctx.Err() != nil:
		r.cb.record(outcomeNeutral) // the caller gave up, not Redis
	default:
		r.cb.record(outcomeFailed)
		r.log.Debug("redis call failed", "error", err)
	}
	return err
}
