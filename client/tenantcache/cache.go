package tenantcache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Kind says what a key names. The values are fixed: a Cache keeps one set of
// shards per kind.
type Kind uint8

// The kinds of key.
const (
	KindTenant      Kind = iota // a tenant id
	KindPhoneNumber             // a WhatsApp phone number id
	KindIntegration             // a Genesys Open Messaging integration id
	numKinds
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindTenant:
		return "tenant"
	case KindPhoneNumber:
		return "phone number"
	case KindIntegration:
		return "integration"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Key names an entry.
type Key struct {
	Kind Kind
	ID   string
}

// Value is what a Cache holds: something that belongs to one tenant, as of
// one version of that tenant (its stream version).
type Value interface {
	TenantVersion() (tenantID string, version int64)
}

// Answer is what the source of truth said about a key: the value of the
// tenant that holds it (Found), or that no live tenant holds it (a negative
// answer: Found false, Value zero).
type Answer[V Value] struct {
	Value V
	Found bool
}

// tenant returns the tenant and version of a positive answer, ("", 0) for a
// negative one.
func (a Answer[V]) tenant() (string, int64) {
	if !a.Found {
		return "", 0
	}
	return a.Value.TenantVersion()
}

// State says what Get found.
type State uint8

const (
	// Miss: nothing cached; ask the source.
	Miss State = iota
	// Fresh: the answer reflects every event applied so far; serve it.
	Fresh
	// Stale: stored before MarkStale and not re-read since. It is the last
	// known good answer: serve it only when the source does not answer.
	Stale
)

// DefaultMaxEntries is the default of Config.MaxEntries.
const DefaultMaxEntries = 400_000

// Config tunes a Cache. Zero fields take their defaults.
type Config struct {
	// MaxEntries bounds the number of entries, positive and negative
	// together; above it cold entries are evicted. Default 400,000.
	MaxEntries int
	// ChangeLog is how many applied changes are remembered to check the
	// answers of fetches still under way (a fetch that outlives this many
	// changes is refused and must be retried). Default 4096.
	ChangeLog int
}

// Validate reports every field out of range.
func (c Config) Validate() error {
	var errs []error
	if c.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("tenantcache: MaxEntries must be 0 (default) or more, not %d", c.MaxEntries))
	}
	if c.ChangeLog < 0 {
		errs = append(errs, fmt.Errorf("tenantcache: ChangeLog must be 0 (default) or more, not %d", c.ChangeLog))
	}
	return errors.Join(errs...)
}

// entry is one cached answer. Only ref changes after the entry is stored;
// everything else is read without a lock. The fields are ordered to keep
// it small: for a value of 120 bytes it takes 160.
type entry[V Value] struct {
	value     V
	id        string
	fetchedAt int64  // the ticket position the answer was asked for
	gen       uint32 // the staleness generation of the ticket
	slot      int32  // index in the clock
	ref       atomic.Bool
	kind      Kind
	found     bool
}

func (e *entry[V]) key() Key { return Key{Kind: e.kind, ID: e.id} }

// tenant returns the tenant and version of a positive entry, ("", 0) for a
// negative one.
func (e *entry[V]) tenant() (string, int64) {
	if !e.found {
		return "", 0
	}
	return e.value.TenantVersion()
}

type shard[V Value] = map[string]*entry[V]

// Cache is the store. Its methods are safe for concurrent use; Get never
// blocks.
type Cache[V Value] struct {
	// Read by every Get: keep together, written rarely.
	seed      maphash.Seed
	bits      uint
	mask      uint64
	shards    []atomic.Pointer[shard[V]] // numKinds << bits
	freshFrom atomic.Uint32              // entries with gen < freshFrom are Stale
	_         [64]byte

	hits   stripedCounter
	misses atomic.Uint64
	stale  atomic.Uint64

	mu            sync.Mutex // serialises every write below
	max           int
	count         int
	negative      int
	tenants       map[string]*tenantRec[V]
	orphans       orphans
	clock         clock[V]
	log           changeLog
	pos           int64  // highest position applied
	gen           uint32 // staleness generation
	base          uint32 // entries of a generation below base stay Stale (Expire)
	invalidations uint64
	evictions     uint64
}

// New returns an empty Cache.
func New[V Value](cfg Config) (*Cache[V], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.ChangeLog == 0 {
		cfg.ChangeLog = 4096
	}
	// About 64 entries per shard when full: a write copies one shard.
	b := uint(bits.Len(uint(cfg.MaxEntries / 64)))
	b = min(max(b, 6), 16)
	c := &Cache[V]{
		seed:    maphash.MakeSeed(),
		bits:    b,
		mask:    1<<b - 1,
		shards:  make([]atomic.Pointer[shard[V]], int(numKinds)<<b),
		max:     cfg.MaxEntries,
		tenants: map[string]*tenantRec[V]{},
		// A record without entries is about 150 bytes, an entry several
		// hundred: orphans add at most a few percent to the bound.
		orphans: orphans{limit: max(cfg.MaxEntries/16, 64)},
		log:     changeLog{ring: make([]Change, cfg.ChangeLog)},
	}
	return c, nil
}

func (c *Cache[V]) shardOf(kind Kind, id string) *atomic.Pointer[shard[V]] {
	return &c.shards[uint64(kind)<<c.bits|maphash.String(c.seed, id)&c.mask]
}

// Get returns the value cached for the key and its state: a pointer into
// the cache, which must not be modified, or nil for a negative entry (no
// live tenant holds the key) and for a Miss. It counts a Fresh answer as a
// hit and anything else as a miss. It takes no lock and allocates nothing.
func (c *Cache[V]) Get(kind Kind, id string) (*V, State) {
	if m := c.shardOf(kind, id).Load(); m != nil {
		if e := (*m)[id]; e != nil {
			if !e.ref.Load() { // read before write: a hot entry's line stays shared
				e.ref.Store(true)
			}
			st := Fresh
			if e.gen < c.freshFrom.Load() {
				c.misses.Add(1)
				c.stale.Add(1)
				st = Stale
			} else {
				c.hits.add()
			}
			if !e.found {
				return nil, st
			}
			return &e.value, st
		}
	}
	c.misses.Add(1)
	return nil, Miss
}

// Peek is Get without counting and without marking the entry as used.
func (c *Cache[V]) Peek(kind Kind, id string) (*V, State) {
	if m := c.shardOf(kind, id).Load(); m != nil {
		if e := (*m)[id]; e != nil {
			st := Fresh
			if e.gen < c.freshFrom.Load() {
				st = Stale
			}
			if !e.found {
				return nil, st
			}
			return &e.value, st
		}
	}
	return nil, Miss
}

// Ticket is taken before asking the source about a key; Put checks the
// answer against what was applied since.
type Ticket struct {
	seq uint64
	pos int64
	gen uint32
}

// Position returns the global position the answer must reflect: ask the
// source for "at least this position" (the service's minPosition).
func (t Ticket) Position() int64 { return t.pos }

// Ticket returns a ticket for a fetch that starts now.
func (c *Cache[V]) Ticket() Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket{seq: c.log.seq, pos: c.pos, gen: c.gen}
}

// Outcome says what Put did.
type Outcome uint8

const (
	// Stored: the answer is cached.
	Stored Outcome = iota
	// Outdated: a change applied after the ticket may be newer than the
	// answer, or the cache already answered a newer version of its tenant.
	// Nothing was stored; fetch again with a new ticket.
	Outdated
)

// Put stores the answer the source gave for the key, asked with ticket t
// (for at least t.Position()), unless it is Outdated. Storing an answer of
// version v of a tenant drops the tenant's entries of older versions, so
// every key of a tenant answers the same version.
func (c *Cache[V]) Put(t Ticket, k Key, a Answer[V]) Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	tenantID, version := a.tenant()
	if !c.log.consistent(t, k, a.Found, tenantID, version) {
		return Outdated
	}
	var rec *tenantRec[V]
	if a.Found {
		if rec = c.tenants[tenantID]; rec != nil && version < rec.floor {
			return Outdated
		}
	}
	old := c.load(k)
	if old != nil && old.fetchedAt > t.pos {
		return Outdated // stored by a fetch that started later
	}
	e := &entry[V]{value: a.Value, found: a.Found, kind: k.Kind, id: k.ID, fetchedAt: t.pos, gen: t.gen}
	if old != nil {
		e.ref.Store(old.ref.Load()) // a refreshed hot key stays hot
	}
	c.store(k, e)
	if old != nil {
		c.clock.replace(old, e)
		c.unindex(old)
	} else {
		c.clock.add(e)
		c.count++
	}
	if !a.Found {
		c.negative++
	} else {
		if rec == nil {
			rec = &tenantRec[V]{}
		}
		rec.floor = max(rec.floor, version)
		// Unindexing the old entry may have released the record: put it
		// back before its older entries are dropped.
		c.tenants[tenantID] = rec
		c.dropOlder(rec, version)
		c.index(rec, e)
	}
	for c.count > c.max {
		v := c.clock.victim()
		if v == nil {
			break
		}
		c.remove(v)
		c.evictions++
	}
	return Stored
}

// dropOlder removes the tenant's entries of versions below v.
func (c *Cache[V]) dropOlder(rec *tenantRec[V], v int64) {
	for i := 0; i < len(rec.entries); {
		if _, ev := rec.entries[i].tenant(); ev < v {
			e := rec.entries[i]
			c.remove(e) // moves the last entry to i
			c.invalidations++
			continue
		}
		i++
	}
}

// load returns the entry of k. Callers hold mu.
func (c *Cache[V]) load(k Key) *entry[V] {
	if m := c.shardOf(k.Kind, k.ID).Load(); m != nil {
		return (*m)[k.ID]
	}
	return nil
}

// store sets the entry of k, copying its shard. Callers hold mu.
func (c *Cache[V]) store(k Key, e *entry[V]) {
	p := c.shardOf(k.Kind, k.ID)
	var m shard[V]
	if old := p.Load(); old != nil {
		m = cloneShard(*old, 1)
	} else {
		m = make(shard[V], 1)
	}
	m[k.ID] = e
	p.Store(&m)
}

// remove deletes the entry from its shard, the clock and its tenant's keys.
// Callers hold mu.
func (c *Cache[V]) remove(e *entry[V]) {
	p := c.shardOf(e.kind, e.id)
	old := p.Load()
	if old == nil || (*old)[e.id] != e {
		return
	}
	if len(*old) == 1 {
		p.Store(nil)
	} else {
		m := cloneShard(*old, 0)
		delete(m, e.id)
		p.Store(&m)
	}
	c.clock.del(e)
	c.count--
	c.unindex(e)
}

// cloneShard copies a shard with room for extra more keys.
func cloneShard[V Value](m shard[V], extra int) shard[V] {
	if extra == 0 {
		return maps.Clone(m)
	}
	out := make(shard[V], len(m)+extra)
	maps.Copy(out, m)
	return out
}
