package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"tenant-service/client/tenantcache"
	"tenant-service/domain"
)

// DefaultMemoryEntries is the default of MemoryConfig.MaxEntries.
const DefaultMemoryEntries = 50_000

// fetchAttempts is how many times Memory asks for a key whose answers the
// cache keeps refusing; the last attempt asks PostgreSQL.
const fetchAttempts = 3

// fromPostgres is the minimum position that makes the Resolver answer from
// PostgreSQL: no Redis model has applied it.
const fromPostgres = domain.Position(math.MaxInt64)

// MemoryConfig tunes a Memory. Zero fields take their defaults.
type MemoryConfig struct {
	// MaxEntries bounds the lookups kept (tenant contexts and "not found"
	// answers together); above it the coldest are evicted. Default 50,000
	// (about 65 MB when every entry holds a 1 KB context: BenchmarkMemoryFootprint).
	MaxEntries int
	// MaxLag is how long after the follower last caught up with the event
	// feed memory still answers: while its reads fail or lag longer, every
	// lookup asks the Resolver. Default 5s.
	MaxLag time.Duration
	// Log receives a warning when an event's data cannot be read. Default: discard.
	Log *slog.Logger
	// Now is the clock MaxLag is measured with. Default time.Now.
	Now func() time.Time
}

// Validate reports every field out of range.
func (c MemoryConfig) Validate() error {
	var errs []error
	if c.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("memory: MaxEntries must be 0 (default) or more, not %d", c.MaxEntries))
	}
	if c.MaxLag < 0 {
		errs = append(errs, fmt.Errorf("memory: MaxLag must be 0 (default) or more, not %s", c.MaxLag))
	}
	return errors.Join(errs...)
}

// Memory answers the resolve lookups from this process's memory, in front
// of a Resolver: a miss asks the Resolver (Redis, then PostgreSQL) and keeps
// the answer, "not found" included; the Follower's events drop every answer
// they may have changed. The context JSON is kept as the Resolver answered
// it and served as it is. It is safe for concurrent use.
//
// Memory answers a lookup only when
//   - the follower has started (it starts at the head of the store: answers
//     kept before then could miss events it never hands over),
//   - the follower has handed over every event up to the lookup's minimum
//     position, and
//   - the follower caught up with the feed within MaxLag,
//
// and otherwise asks the Resolver, which honours the minimum position
// itself. Answers never go back to an older version of a tenant than one
// memory answered (see tenantcache: per-tenant floors), and an answer older
// than that from a lagging Redis is asked again, the last time from
// PostgreSQL.
type Memory struct {
	res      *Resolver
	follower *Follower
	cache    *tenantcache.Cache[memoryValue]
	cfg      MemoryConfig
	live     atomic.Bool   // the follower has started and the cache knows its head
	bypassed atomic.Uint64 // lookups asked of the Resolver without looking in memory
}

// memoryValue is one kept answer: the context JSON as the Resolver gave it
// (never modified), and the tenant and version it holds.
type memoryValue struct {
	raw     json.RawMessage
	tenant  string
	version int64
}

// TenantVersion makes memoryValue a tenantcache.Value.
func (v memoryValue) TenantVersion() (string, int64) { return v.tenant, v.version }

// NewMemory returns a Memory in front of res, kept current by f: it
// registers its handler with f, so call it before f.Run.
func NewMemory(res *Resolver, f *Follower, cfg MemoryConfig) (*Memory, error) {
	if res == nil || f == nil {
		return nil, errors.New("memory: a resolver and a follower are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MaxEntries = orDefault(cfg.MaxEntries, DefaultMemoryEntries)
	cfg.MaxLag = orDefault(cfg.MaxLag, 5*time.Second)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cache, err := tenantcache.New[memoryValue](tenantcache.Config{MaxEntries: cfg.MaxEntries})
	if err != nil {
		return nil, err
	}
	m := &Memory{res: res, follower: f, cache: cache, cfg: cfg}
	f.Handle(m.apply)
	return m, nil
}

// ByPhoneNumber is Resolver.ByPhoneNumber, from memory when it may.
func (m *Memory) ByPhoneNumber(ctx context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error) {
	return m.lookup(ctx, tenantcache.KindPhoneNumber, phoneNumberID, min)
}

// ByIntegration is Resolver.ByIntegration, from memory when it may.
func (m *Memory) ByIntegration(ctx context.Context, integrationID string, min domain.Position) (json.RawMessage, error) {
	return m.lookup(ctx, tenantcache.KindIntegration, integrationID, min)
}

// ByTenant is Resolver.ByTenant, from memory when it may.
func (m *Memory) ByTenant(ctx context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error) {
	return m.lookup(ctx, tenantcache.KindTenant, string(id), min)
}

// WhatsAppToken is Resolver.WhatsAppToken: secrets are not kept in memory.
func (m *Memory) WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (domain.State, error) {
	return m.res.WhatsAppToken(ctx, id, min)
}

// lookup answers from memory when it may: this path takes no lock and
// allocates nothing.
func (m *Memory) lookup(ctx context.Context, kind tenantcache.Kind, id string, min domain.Position) (json.RawMessage, error) {
	if m.serving(min) {
		if v, st := m.cache.Get(kind, id); st == tenantcache.Fresh {
			if v == nil {
				return nil, domain.ErrTenantNotFound
			}
			return v.raw, nil
		}
		return m.fetch(ctx, kind, id, min)
	}
	m.bypassed.Add(1)
	if !m.live.Load() {
		return m.ask(ctx, kind, id, min)
	}
	// Still through the cache: its floors keep a lagging Redis from
	// answering an older version than memory did.
	return m.fetch(ctx, kind, id, min)
}

// serving reports whether memory may answer a lookup that must reflect
// the events up to min.
func (m *Memory) serving(min domain.Position) bool {
	if !m.live.Load() && !m.start() {
		return false
	}
	return min <= m.follower.Position() && m.cfg.Now().Sub(m.follower.CaughtUpAt()) <= m.cfg.MaxLag
}

// start makes memory live once the follower has found the head it starts
// from: every answer asked for from then on reflects at least the head,
// and the follower hands over every event after it.
func (m *Memory) start() bool {
	select {
	case <-m.follower.Ready():
	default:
		return false
	}
	m.cache.Advance(int64(m.follower.Position()))
	m.live.Store(true)
	return true
}

// fetch asks the Resolver with a ticket, for at least the position memory
// has applied, and keeps the answer. An answer the cache refuses (an event
// applied meanwhile may be newer, or it is older than a version memory
// answered) is asked again, the last time from PostgreSQL, which is always
// current: that answer is returned even if the cache refuses it.
func (m *Memory) fetch(ctx context.Context, kind tenantcache.Kind, id string, min domain.Position) (json.RawMessage, error) {
	if !keepable(kind, id) {
		return m.ask(ctx, kind, id, min) // the Resolver answers not found without asking anyone
	}
	key := tenantcache.Key{Kind: kind, ID: strings.Clone(id)} // not the request's string: memory would keep it alive
	for attempt := 1; ; attempt++ {
		t := m.cache.Ticket()
		ask := max(min, domain.Position(t.Position()))
		if attempt == fetchAttempts {
			ask = fromPostgres
		}
		raw, err := m.ask(ctx, kind, id, ask)
		a, ok := answerOf(raw, err)
		if !ok {
			return raw, err
		}
		if m.cache.Put(t, key, a) == tenantcache.Stored || attempt == fetchAttempts {
			return raw, err
		}
	}
}

// ask asks the Resolver.
func (m *Memory) ask(ctx context.Context, kind tenantcache.Kind, id string, min domain.Position) (json.RawMessage, error) {
	switch kind {
	case tenantcache.KindPhoneNumber:
		return m.res.ByPhoneNumber(ctx, id, min)
	case tenantcache.KindIntegration:
		return m.res.ByIntegration(ctx, id, min)
	default:
		return m.res.ByTenant(ctx, domain.TenantID(id), min)
	}
}

// keepable reports whether an id is worth keeping: one the Resolver would
// look up.
func keepable(kind tenantcache.Kind, id string) bool {
	if kind == tenantcache.KindTenant {
		_, err := domain.ParseTenantID(id)
		return err == nil
	}
	return id != "" && len(id) <= maxLookupLen
}

// answerOf turns what the Resolver said into an answer to keep: not found
// is a negative answer; other errors, and JSON without a tenant, are not
// kept.
func answerOf(raw json.RawMessage, err error) (tenantcache.Answer[memoryValue], bool) {
	if err != nil {
		return tenantcache.Answer[memoryValue]{}, domain.KindOf(err) == domain.KindNotFound
	}
	var head struct {
		TenantID string `json:"tenantId"`
		Version  int64  `json:"version"`
	}
	if json.Unmarshal(raw, &head) != nil || head.TenantID == "" {
		return tenantcache.Answer[memoryValue]{}, false
	}
	return tenantcache.Answer[memoryValue]{Value: memoryValue{raw: raw, tenant: head.TenantID, version: head.Version}, Found: true}, true
}

// apply is the follower's handler: each event drops the answers it may
// have changed.
func (m *Memory) apply(events []domain.StoredEvent) {
	for _, e := range events {
		ch, err := changeOf(e)
		if err != nil {
			// The keys it names are unknown: no answer kept so far can be
			// trusted until it is read again.
			m.cfg.Log.Warn("memory cannot read an event's keys; every kept lookup is read again",
				"position", int64(e.Position), "type", e.Type, "error", err)
			m.cache.Expire()
		}
		m.cache.Apply(ch)
	}
}

// changeOf returns what an event means for kept answers: those of its
// tenant, and those of the phone number and integration id it names (a
// number linked to it, or unlinked from it), may be stale. Any event type,
// also one this build does not know, names its keys in data.phoneNumberId
// and data.integrationId. An error means the data could not be read; the
// change then names the tenant only.
func changeOf(e domain.StoredEvent) (tenantcache.Change, error) {
	ch := tenantcache.Change{TenantID: string(e.TenantID), Version: int64(e.Version), Position: int64(e.Position)}
	var keys struct {
		PhoneNumberID string `json:"phoneNumberId"`
		IntegrationID string `json:"integrationId"`
	}
	if err := json.Unmarshal(e.Data, &keys); err != nil {
		return ch, fmt.Errorf("read the keys of %s at %d: %w", e.Type, e.Position, err)
	}
	if keys.PhoneNumberID != "" {
		ch.Keys = append(ch.Keys, tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: keys.PhoneNumberID})
	}
	if keys.IntegrationID != "" {
		ch.Keys = append(ch.Keys, tenantcache.Key{Kind: tenantcache.KindIntegration, ID: keys.IntegrationID})
	}
	return ch, nil
}

// MemoryStats are a Memory's counters since it was created, and its size now.
type MemoryStats struct {
	Hits          uint64 // lookups answered from memory
	Misses        uint64 // lookups that asked the Resolver
	Invalidations uint64 // kept answers dropped because an event could have changed them
	Evictions     uint64 // kept answers dropped to stay within MaxEntries
	Entries       int    // answers kept now, "not found" ones included
	Position      int64  // the highest global position applied
}

// Stats returns the counters.
func (m *Memory) Stats() MemoryStats {
	s := m.cache.Stats()
	return MemoryStats{Hits: s.Hits, Misses: s.Misses + m.bypassed.Load(), Invalidations: s.Invalidations,
		Evictions: s.Evictions, Entries: s.Entries, Position: s.Position}
}
