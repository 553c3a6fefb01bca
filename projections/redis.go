package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/genesys/tokencache"
)

// RedisTenantsName names the Redis read-model projector. Persisted as its
// checkpoint key: renaming it replays every event into Redis.
const RedisTenantsName = "redis.tenants"

// RedisConfig tunes RedisTenants.
type RedisConfig struct {
	// Prefix starts every key (REDIS_KEY_PREFIX). Default empty.
	Prefix string
	// Log receives the projector's messages. Default: discarded.
	Log *slog.Logger
	// ResetBatch is how many keys Reset scans and unlinks per round. Default 500.
	ResetBatch int
}

// Validate reports every invalid field.
func (c RedisConfig) Validate() error {
	var errs []error
	if c.ResetBatch < 0 {
		errs = append(errs, errors.New("reset batch must not be negative"))
	}
	return errors.Join(errs...)
}

// RedisTenants projects tenants into Redis: tenant:{id} and the lookup keys
// tenant:phone:{phoneNumberId} and tenant:integration:{integrationId}, each
// holding a Context. It writes from the tenant's current PostgreSQL row
// (always at or past the batch), version-guarded, so replays, retries and
// refills by the Resolver converge to the same keys.
//
// Every batch also writes the model's applied position,
// projection:redis.tenants:position (the last global position applied), and
// the version it wrote of each tenant, projection:redis.tenants:versions.
// Readers answer a minPosition from Redis only when the applied position
// reaches it, and refills never write a tenant older than the projector did.
// The applied position is also the data-loss marker: Redis may run without
// persistence, be flushed, fail over to a lagging replica or be restored from
// an older copy. When the Runner finds the marker missing or below its
// checkpoint, Verify (or Handle) returns ErrLost and the Runner resets the
// keys and replays from position 0.
type RedisTenants struct {
	rdb  redis.UniversalClient
	pg   *Tenants
	keys Keys
	log  *slog.Logger
	cfg  RedisConfig
}

// NewRedisTenants returns the Redis projector; run it with a Runner.
func NewRedisTenants(rdb redis.UniversalClient, pg *Tenants, cfg RedisConfig) (*RedisTenants, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redis projector config: %w", err)
	}
	if rdb == nil || pg == nil {
		return nil, errors.New("redis projector: a Redis client and the tenants read model are required")
	}
	cfg.ResetBatch = orDefault(cfg.ResetBatch, 500)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &RedisTenants{rdb: rdb, pg: pg, keys: Keys{Prefix: cfg.Prefix}, log: cfg.Log, cfg: cfg}, nil
}

// Name returns RedisTenantsName.
func (p *RedisTenants) Name() string { return RedisTenantsName }

// Verify returns ErrLost when the applied position is missing or below the
// checkpoint: Redis restarted empty, was flushed, or was restored from (or
// failed over to) an older copy.
func (p *RedisTenants) Verify(ctx context.Context, checkpoint domain.Position) error {
	if checkpoint == 0 {
		return nil
	}
	raw, err := p.rdb.Get(ctx, p.keys.position(RedisTenantsName)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("verify redis read model: %w", err)
	}
	return checkApplied(raw, err == nil, checkpoint)
}

// checkApplied compares the marker's value with the checkpoint.
func checkApplied(raw string, found bool, checkpoint domain.Position) error {
	if checkpoint == 0 {
		return nil
	}
	if !found {
		return fmt.Errorf("%w: redis has no %s position at checkpoint %d", ErrLost, RedisTenantsName, checkpoint)
	}
	applied, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: redis holds an unreadable %s position %q", ErrLost, RedisTenantsName, raw)
	}
	if domain.Position(applied) < checkpoint {
		return fmt.Errorf("%w: redis has applied position %d, below the checkpoint %d (restored from an older copy?)",
			ErrLost, applied, checkpoint)
	}
	return nil
}

// Handle writes the current context of every tenant in the batch.
func (p *RedisTenants) Handle(ctx context.Context, events []domain.StoredEvent) error {
	if len(events) == 0 {
		return nil
	}
	b := planBatch(events)
	states, err := p.pg.States(ctx, b.ids)
	if err != nil {
		return err
	}
	olds, err := p.readOld(ctx, b.ids, events[0].Position-1)
	if err != nil {
		return err
	}
	pipe := p.rdb.Pipeline()
	for _, id := range b.ids {
		st, ok := states[id]
		if !ok {
			return fmt.Errorf("redis projector: tenant %s has events but no row in the tenants table", id)
		}
		if err := p.queueTenant(ctx, pipe, st, olds[id], b); err != nil {
			return err
		}
	}
	// The position last: a reader that sees it sees every write before it.
	last := events[len(events)-1].Position
	pipe.Set(ctx, p.keys.position(RedisTenantsName), strconv.FormatInt(int64(last), 10), 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis projector: write up to %d: %w", last, err)
	}
	return nil
}

// readOld returns the contexts Redis holds for the tenants now, and ErrLost
// when the applied position is missing or below the checkpoint.
func (p *RedisTenants) readOld(ctx context.Context, ids []domain.TenantID, checkpoint domain.Position) (map[domain.TenantID]*Context, error) {
	pipe := p.rdb.Pipeline()
	marker := pipe.Get(ctx, p.keys.position(RedisTenantsName))
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, p.keys.Tenant(id))
	}
	_, _ = pipe.Exec(ctx) // errors are checked per command: a missing key is redis.Nil
	if err := marker.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis projector: read applied position: %w", err)
	}
	if err := checkApplied(marker.Val(), marker.Err() == nil, checkpoint); err != nil {
		return nil, err
	}
	out := make(map[domain.TenantID]*Context, len(ids))
	for i, get := range gets {
		raw, err := get.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("redis projector: read %s: %w", ids[i], err)
		}
		var c Context
		if json.Unmarshal(raw, &c) == nil {
			out[ids[i]] = &c
		}
	}
	return out, nil
}

// queueTenant queues the writes that make Redis show the tenant's state.
func (p *RedisTenants) queueTenant(ctx context.Context, pipe redis.Pipeliner, st domain.State, old *Context, b batchPlan) error {
	id := st.TenantID
	phones, integrations := b.phones[id], b.integrations[id]
	if old != nil {
		integrations = appendUnique(integrations, old.Genesys.integration())
		if old.WhatsApp != nil {
			for _, ph := range old.WhatsApp.PhoneNumbers {
				phones = appendUnique(phones, ph.PhoneNumberID)
			}
		}
	}
	if st.WhatsApp != nil {
		for _, ph := range st.WhatsApp.PhoneNumbers {
			phones = appendUnique(phones, ph.PhoneNumberID)
		}
	}
	if st.Genesys != nil {
		integrations = appendUnique(integrations, st.Genesys.IntegrationID)
	}
	// The tenant's version first: a refill that read an older version is
	// refused from here on, even for a key this batch removes.
	pipe.HSet(ctx, p.keys.versions(RedisTenantsName), string(id), int64(st.Version))
	held := map[string]bool{}
	if st.Status == domain.StatusDeleted {
		for _, k := range []string{p.keys.Tenant(id), p.keys.WhatsAppToken(id)} {
			pipe.Del(ctx, k) // one key per command: in a cluster the slots differ
		}
		tokencache.QueueDrop(ctx, pipe, p.keys.Prefix, string(id))
	} else {
		if err := p.queueSet(ctx, pipe, p.keys.Tenant(id), ContextFromState(st, "")); err != nil {
			return err
		}
		for _, ph := range st.PhoneNumberIDs() {
			held[KeyTenantPhone+ph] = true
			if err := p.queueSet(ctx, pipe, p.keys.Phone(ph), ContextFromState(st, ph)); err != nil {
				return err
			}
		}
		if in := st.IntegrationID(); in != "" {
			held[KeyTenantIntegration+in] = true
			if err := p.queueSet(ctx, pipe, p.keys.Integration(in), ContextFromState(st, "")); err != nil {
				return err
			}
		}
	}
	for _, ph := range phones {
		if !held[KeyTenantPhone+ph] {
			deleteIfOwnerScript.Eval(ctx, pipe, []string{p.keys.Phone(ph)}, string(id))
		}
	}
	for _, in := range integrations {
		if !held[KeyTenantIntegration+in] {
			deleteIfOwnerScript.Eval(ctx, pipe, []string{p.keys.Integration(in)}, string(id))
		}
	}
	if at, ok := b.genesysRotatedAt[id]; ok {
		// The Genesys token cache is the genesys package's: it drops the
		// token fetched with the old credentials only.
		tokencache.QueueDropFetchedBefore(ctx, pipe, p.keys.Prefix, string(id), at)
	}
	if b.whatsAppTokenStale[id] {
		// Written, not deleted, so a reader's refill from an older read
		// loses to it on the version guard.
		if err := p.queueWhatsAppToken(ctx, pipe, st); err != nil {
			return fmt.Errorf("redis projector: encode token of %s: %w", id, err)
		}
	}
	return nil
}

func (p *RedisTenants) queueSet(ctx context.Context, pipe redis.Pipeliner, key string, c Context) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("redis projector: encode %s: %w", c.TenantID, err)
	}
	// Eval, not EvalSha: a Redis that restarted has forgotten loaded scripts.
	projectContextScript.Eval(ctx, pipe, []string{key}, string(c.TenantID), int64(c.Version), raw)
	return nil
}

func (g *GenesysContext) integration() string {
	if g == nil {
		return ""
	}
	return g.IntegrationID
}

func appendUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
