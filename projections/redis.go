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
// Redis may run without persistence. Every batch also writes the marker key
// projection:redis.tenants:position; when the Runner finds it missing while
// the checkpoint is above 0, Redis lost its data: Verify (or Handle) returns
// ErrLost and the Runner resets the keys and replays from position 0.
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

// Verify returns ErrLost when the marker is gone although the checkpoint is
// above 0: Redis restarted empty or the keys were flushed.
func (p *RedisTenants) Verify(ctx context.Context, checkpoint domain.Position) error {
	if checkpoint == 0 {
		return nil
	}
	n, err := p.rdb.Exists(ctx, p.keys.position(RedisTenantsName)).Result()
	if err != nil {
		return fmt.Errorf("verify redis read model: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: redis has no %s marker at checkpoint %d", ErrLost, RedisTenantsName, checkpoint)
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
	last := events[len(events)-1].Position
	pipe.Set(ctx, p.keys.position(RedisTenantsName), strconv.FormatInt(int64(last), 10), 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis projector: write up to %d: %w", last, err)
	}
	return nil
}

// readOld returns the contexts Redis holds for the tenants now, and ErrLost
// when the marker is gone while the batch is not the first.
func (p *RedisTenants) readOld(ctx context.Context, ids []domain.TenantID, checkpoint domain.Position) (map[domain.TenantID]*Context, error) {
	pipe := p.rdb.Pipeline()
	marker := pipe.Exists(ctx, p.keys.position(RedisTenantsName))
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, p.keys.Tenant(id))
	}
	_, _ = pipe.Exec(ctx) // errors are checked per command: a missing key is redis.Nil
	if err := marker.Err(); err != nil {
		return nil, fmt.Errorf("redis projector: read marker: %w", err)
	}
	if checkpoint > 0 && marker.Val() == 0 {
		return nil, fmt.Errorf("%w: redis has no %s marker at checkpoint %d", ErrLost, RedisTenantsName, checkpoint)
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
	held := map[string]bool{}
	if st.Status == domain.StatusDeleted {
		for _, k := range []string{p.keys.Tenant(id), p.keys.GenesysToken(id), p.keys.WhatsAppToken(id)} {
			pipe.Del(ctx, k) // one key per command: in a cluster the slots differ
		}
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
		// Only a token fetched before the rotation is stale; one fetched
		// with the new credentials since then stays.
		deleteTokenFetchedBeforeScript.Eval(ctx, pipe, []string{p.keys.GenesysToken(id)}, at.UnixMilli())
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
	setContextScript.Eval(ctx, pipe, []string{key}, string(c.TenantID), int64(c.Version), raw, "project", 0)
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
