package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
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
//
// Every read takes a minimum global position (0: none): Redis answers only
// when the Redis model has applied it (its applied position is read in the
// same round trip as the value), otherwise PostgreSQL does, whose tenants
// table is written with the append and so is always current.
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
	// fromRedis and fromPostgres count the answers (contexts and not-found)
	// each source gave.
	fromRedis, fromPostgres atomic.Uint64
	// cluster: keys live on several nodes, so the applied position and the
	// value are read one after the other, and refills (a script over the
	// key and the versions hash, which may sit on different nodes) are off.
	cluster bool
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
		r.direct, r.cluster = rc.Options().ContextTimeoutEnabled, true
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
// phone number id, reflecting at least the events up to position min, or
// domain.ErrTenantNotFound. A suspended tenant resolves, with its status; a
// deleted one does not.
func (r *Resolver) ByPhoneNumber(ctx context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error) {
	if phoneNumberID == "" || len(phoneNumberID) > maxLookupLen {
		return nil, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Phone(phoneNumberID), phoneNumberID, min, func(ctx context.Context) (domain.State, error) {
		return r.pg.ByPhoneNumber(ctx, phoneNumberID)
	})
}

// ByIntegration returns the context of the live tenant holding the Genesys
// Open Messaging integration id, or domain.ErrTenantNotFound.
func (r *Resolver) ByIntegration(ctx context.Context, integrationID string, min domain.Position) (json.RawMessage, error) {
	if integrationID == "" || len(integrationID) > maxLookupLen {
		return nil, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Integration(integrationID), "", min, func(ctx context.Context) (domain.State, error) {
		return r.pg.ByIntegration(ctx, integrationID)
	})
}

// ByTenant returns the context of the live (active or suspended) tenant, or
// domain.ErrTenantNotFound for an unknown or deleted one.
func (r *Resolver) ByTenant(ctx context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error) {
	if _, err := domain.ParseTenantID(string(id)); err != nil {
		return nil, domain.ErrTenantNotFound
	}
	return r.resolve(ctx, r.keys.Tenant(id), "", min, func(ctx context.Context) (domain.State, error) {
		return r.pg.Get(ctx, id)
	})
}

// resolve reads key from Redis, else loads the state from PostgreSQL and
// refills the key, and returns the context JSON. A deleted tenant is never
// answered (Redis does not hold one; a stale value saying deleted is
// ignored).
func (r *Resolver) resolve(ctx context.Context, key, phone string, min domain.Position, load func(context.Context) (domain.State, error)) (_ json.RawMessage, err error) {
	defer postgres.ClassifyOn(&err)
	if raw, ok := r.cached(ctx, key, min); ok {
		var head contextHead
		if err := json.Unmarshal(raw, &head); err == nil && head.TenantID != "" {
			if head.Status != domain.StatusDeleted {
				r.fromRedis.Add(1)
				return raw, nil
			}
		} else {
			r.log.Warn("unreadable tenant context in redis; using PostgreSQL", "key", key)
		}
	}
	st, err := load(ctx)
	if err == nil || domain.KindOf(err) == domain.KindNotFound {
		r.fromPostgres.Add(1)
	}
	if err != nil {
		return nil, err
	}
	if st.Status == domain.StatusDeleted {
		return nil, domain.ErrTenantNotFound
	}
	raw, err := json.Marshal(ContextFromState(st, phone))
	if err != nil {
		return nil, fmt.Errorf("encode context of %s: %w", st.TenantID, err)
	}
	r.fill(ctx, key, st.TenantID, st.Version, raw, r.cfg.RefillTTL)
	return raw, nil
}

// Answers returns how many lookups Redis and PostgreSQL answered since start.
func (r *Resolver) Answers() (redis, postgres uint64) {
	return r.fromRedis.Load(), r.fromPostgres.Load()
}

// contextHead is what the resolver reads of a cached context to trust it.
type contextHead struct {
	TenantID domain.TenantID `json:"tenantId"`
	Status   domain.Status   `json:"status"`
}

// cached returns the value of key when Redis holds it and the model has
// applied position min (min 0: whatever Redis holds). The applied position
// is read before the value, in the same round trip: the projector writes it
// after the values of a batch, so a value read after it is at least as new.
func (r *Resolver) cached(ctx context.Context, key string, min domain.Position) ([]byte, bool) {
	var raw []byte
	err := r.guard(ctx, func(ctx context.Context) error {
		if min <= 0 {
			var err error
			raw, err = r.rdb.Get(ctx, key).Bytes()
			return err
		}
		marker := r.keys.position(RedisTenantsName)
		if r.cluster {
			applied, err := r.rdb.Get(ctx, marker).Int64()
			if err != nil {
				return err
			}
			if domain.Position(applied) < min {
				return errBehind
			}
			raw, err = r.rdb.Get(ctx, key).Bytes()
			return err
		}
		pipe := r.rdb.Pipeline()
		m := pipe.Get(ctx, marker)
		v := pipe.Get(ctx, key)
		_, _ = pipe.Exec(ctx) // errors are read per command: redis.Nil is a miss
		applied, err := m.Int64()
		if err != nil {
			return err
		}
		if domain.Position(applied) < min {
			return errBehind
		}
		raw, err = v.Bytes()
		return err
	})
	if err != nil {
		return nil, false // raw may still be written by a call that timed out
	}
	return raw, true
}

// errBehind reports that the Redis model has not applied the asked position
// yet: not a failure of Redis.
var errBehind = errors.New("redis read model behind the asked position")

// fill writes a value read from PostgreSQL (at the tenant's version) with a
// TTL, unless the projector wrote a newer version of the tenant or the key
// holds a newer value (see fillScript).
func (r *Resolver) fill(ctx context.Context, key string, id domain.TenantID, version domain.Version, raw []byte, ttl time.Duration) {
	if r.cluster {
		return
	}
	err := r.guard(ctx, func(ctx context.Context) error {
		return fillScript.Run(ctx, r.rdb, []string{key, r.keys.versions(RedisTenantsName)},
			string(id), int64(version), raw, ttl.Milliseconds()).Err()
	})
	if err != nil && !errors.Is(err, errRedisSkipped) {
		r.log.Debug("refill from PostgreSQL failed", "key", key, "error", err)
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
	case err == nil || errors.Is(err, redis.Nil) || errors.Is(err, errBehind):
		r.cb.record(outcomeOK)
	case ctx.Err() != nil:
		r.cb.record(outcomeNeutral) // the caller gave up, not Redis
	default:
		r.cb.record(outcomeFailed)
		r.log.Debug("redis call failed", "error", err)
	}
	return err
}
