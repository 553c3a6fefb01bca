package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tenant-service/client/tenantcache"
)

// ErrNotFound means no live tenant holds the id: it was never linked, was
// unlinked, or its tenant was deleted.
var ErrNotFound = errors.New("client: no live tenant holds this id")

// ErrUnavailable means the lookup needed the tenant service and the service
// did not answer in time (or answered with an error). Errors that wrap it
// also wrap the cause, such as context.DeadlineExceeded.
var ErrUnavailable = errors.New("client: tenant service unavailable")

// ErrClosed is returned by lookups that need the service after Close.
var ErrClosed = errors.New("client: closed")

// Client answers tenant lookups from memory and keeps that memory fresh
// with the tenant service's events. It is safe for concurrent use.
type Client struct {
	cfg     Config
	ownHTTP bool // the HTTP client is the client's own: close its idle connections at Close
	log     *slog.Logger
	cache   *tenantcache.Cache[cached]
	svc     *service

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	flightMu sync.Mutex
	flights  map[tenantcache.Key]*flight
	closed   bool // under flightMu: no new goroutines

	refreshQ  chan tenantcache.Key
	reconcile chan struct{} // wakes the reconcile loop

	// synced is the position up to which every event has been applied
	// (read from the event feed, or the head when the client subscribed);
	// -1 while unknown.
	synced      atomic.Int64
	syncMu      sync.Mutex    // one feed read at a time
	resyncToken atomic.Uint32 // the token of the latest resync

	stateMu     sync.Mutex
	state       State
	serviceDown atomic.Bool

	staleServed, refreshes, resyncs, reconnects atomic.Uint64
}

// cached is what the cache holds for a key: a context whose strings and
// sub-values are shared with the tenant's other entries where equal, and
// never modified.
type cached struct{ Context }

// TenantVersion makes cached a tenantcache.Value.
func (c cached) TenantVersion() (string, int64) { return c.TenantID, c.Version }

// answer is what the service said about a key.
type answer = tenantcache.Answer[cached]

// flight is one fetch of a key, shared by every lookup of the key that
// misses while it runs.
type flight struct {
	done   chan struct{}
	answer answer
	err    error
}

// New returns a client subscribed to the service's events: it returns once
// its queue is bound to the exchange, waiting (with backoff) for the
// exchange to exist, or with an error when ctx ends first or the broker
// refuses the credentials. It then reads where the service's event feed
// ends (for at most RequestTimeout); the tenant service need not be up, in
// which case lookups read the service's database until a later read of the
// feed succeeds.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ownHTTP := cfg.HTTPClient == nil
	cfg = cfg.withDefaults()
	cache, err := tenantcache.New[cached](tenantcache.Config{MaxEntries: cfg.MaxEntries})
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		ownHTTP:   ownHTTP,
		log:       cfg.Logger,
		cache:     cache,
		svc:       &service{base: cfg.BaseURL, key: cfg.APIKey, http: cfg.HTTPClient},
		flights:   map[tenantcache.Key]*flight{},
		refreshQ:  make(chan tenantcache.Key, 1024),
		reconcile: make(chan struct{}, 1),
		state:     StateConnecting,
	}
	c.synced.Store(-1)
	c.ctx, c.cancel = context.WithCancel(context.Background())

	sub, err := c.subscribeUntil(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	// Every event from here on reaches the queue; the head of the feed now
	// bounds the ones before.
	hctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	c.learnHead(hctx)
	cancel()
	c.setState(StateConnected, "queue", sub.queue, "exchange", cfg.Exchange, "position", c.cache.Position())

	c.wg.Go(func() { c.run(sub) })
	c.wg.Go(c.reconcileLoop)
	for range max(cfg.RefreshWorkers, 0) {
		c.wg.Go(c.refreshLoop)
	}
	return c, nil
}

// Close stops the client: it closes its broker connection (which deletes
// its queue), ends background work and waits for it. Lookups still answer
// from memory afterwards; those that need the service return ErrClosed.
// Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.flightMu.Lock()
		c.closed = true
		c.flightMu.Unlock()
		c.cancel()
		c.wg.Wait()
		if c.ownHTTP {
			c.cfg.HTTPClient.CloseIdleConnections()
		}
		c.setState(StateClosed)
	})
	return nil
}

// ByPhoneNumber returns the context of the tenant holding the WhatsApp
// phone number id (Meta's phone_number_id), or ErrNotFound.
func (c *Client) ByPhoneNumber(ctx context.Context, phoneNumberID string) (Context, error) {
	return c.lookup(ctx, tenantcache.KindPhoneNumber, phoneNumberID)
}

// ByIntegration returns the context of the tenant holding the Genesys Open
// Messaging integration id, or ErrNotFound.
func (c *Client) ByIntegration(ctx context.Context, integrationID string) (Context, error) {
	return c.lookup(ctx, tenantcache.KindIntegration, integrationID)
}

// ByTenant returns the context of the live tenant with this id, or
// ErrNotFound (unknown or deleted).
func (c *Client) ByTenant(ctx context.Context, tenantID string) (Context, error) {
	return c.lookup(ctx, tenantcache.KindTenant, tenantID)
}

// lookup answers from memory when it can: this path takes no lock and
// allocates nothing.
func (c *Client) lookup(ctx context.Context, kind tenantcache.Kind, id string) (Context, error) {
	v, st := c.cache.Get(kind, id)
	if st == tenantcache.Fresh {
		if v == nil {
			return Context{}, ErrNotFound
		}
		return v.Context, nil
	}
	return c.miss(ctx, kind, id, v, st)
}

// miss asks the service (one fetch per key at a time) and waits for it or
// for ctx. A stale entry (kept over a broker outage; last, nil when it is a
// negative one) answers instead when the service does not.
func (c *Client) miss(ctx context.Context, kind tenantcache.Kind, id string, last *cached, st tenantcache.State) (Context, error) {
	if !holdable(id) {
		return Context{}, ErrNotFound // the service never holds these: no need to ask, nor to cache
	}
	stale := st == tenantcache.Stale
	f := c.fetch(tenantcache.Key{Kind: kind, ID: id})
	if f == nil {
		if stale {
			return c.lastKnownGood(last)
		}
		return Context{}, ErrClosed
	}
	if stale && c.serviceDown.Load() {
		// Known down: the fetch runs on, and refreshes the entry when the
		// service is back; the caller need not wait for it.
		return c.lastKnownGood(last)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		if stale {
			return c.lastKnownGood(last)
		}
		return Context{}, fmt.Errorf("%w: %s %q: %w", ErrUnavailable, kind, id, context.Cause(ctx))
	}
	switch {
	case f.err != nil && stale:
		return c.lastKnownGood(last)
	case f.err != nil:
		return Context{}, f.err
	case !f.answer.Found:
		return Context{}, ErrNotFound
	}
	return f.answer.Value.Context, nil
}

func (c *Client) lastKnownGood(last *cached) (Context, error) {
	c.staleServed.Add(1)
	if last == nil {
		return Context{}, ErrNotFound
	}
	return last.Context, nil
}

// holdable reports whether the service could hold the id: it accepts only
// ids of printable ASCII without spaces, '/', '?', '#', '%' or '\\' (so that
// every id is a path segment as it is), of at most 128 bytes.
func holdable(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c <= ' ' || c > '~', c == '/', c == '?', c == '#', c == '%', c == '\\':
			return false
		}
	}
	return true
}

// fetch returns the running fetch of the key, starting one if none runs;
// nil after Close.
func (c *Client) fetch(k tenantcache.Key) *flight {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if c.closed {
		return nil
	}
	if f := c.flights[k]; f != nil {
		return f
	}
	f := &flight{done: make(chan struct{})}
	c.flights[k] = f
	c.wg.Go(func() {
		// The flight takes no new lookups once its answer may be stored:
		// a lookup that began after another one stored a newer version
		// of the tenant must not get this flight's answer, and only a
		// Put that comes after that other one can store it.
		leave := func() {
			c.flightMu.Lock()
			if c.flights[k] == f {
				delete(c.flights, k)
			}
			c.flightMu.Unlock()
		}
		f.answer, f.err = c.read(k, leave)
		leave()
		close(f.done)
	})
	return f
}

// read asks the service for the key and stores the answer, calling
// beforePut before each attempt to store. An answer the cache calls
// outdated (an event arrived meanwhile, or it is older than a version
// already answered) is asked again, the third time and after from
// PostgreSQL (always current). Only a stored answer is returned.
func (c *Client) read(k tenantcache.Key, beforePut func()) (answer, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		t := c.cache.Ticket()
		min := t.Position()
		if attempt >= 2 || c.synced.Load() < 0 {
			min = forcePosition
		}
		a, err := c.svc.resolve(ctx, k.Kind, k.ID, min)
		if err != nil {
			if unavailable(err) && c.ctx.Err() == nil {
				c.setServiceDown(true, err)
			}
			return a, fmt.Errorf("%w: %s %q: %w", ErrUnavailable, k.Kind, k.ID, err)
		}
		c.setServiceDown(false, nil)
		if a.Found {
			if prev, _ := c.cache.Peek(tenantcache.KindTenant, a.Value.TenantID); prev != nil {
				a.Value.share(&prev.Context)
			} else {
				a.Value.share(nil)
			}
		}
		beforePut()
		if c.cache.Put(t, tenantcache.Key{Kind: k.Kind, ID: keyID(k, &a.Value.Context)}, a) == tenantcache.Stored {
			return a, nil
		}
		if attempt == 5 {
			return answer{}, fmt.Errorf("%w: %s %q: changed during every read", ErrUnavailable, k.Kind, k.ID)
		}
	}
}

// keyID returns the id to keep as the key of an entry: the answer's own copy
// of it when it holds one, otherwise a copy, never the caller's string (which
// may be a slice of a whole request body the cache would keep alive).
func keyID(k tenantcache.Key, tc *Context) string {
	if tc != nil {
		switch {
		case k.Kind == tenantcache.KindTenant && k.ID == tc.TenantID:
			return tc.TenantID
		case k.Kind == tenantcache.KindPhoneNumber && tc.WhatsApp != nil && k.ID == tc.WhatsApp.PhoneNumberID:
			return tc.WhatsApp.PhoneNumberID
		case k.Kind == tenantcache.KindIntegration && tc.Genesys != nil && k.ID == tc.Genesys.IntegrationID:
			return tc.Genesys.IntegrationID
		}
	}
	return strings.Clone(k.ID)
}

// Stats are the client's counters since New, and its state now.
type Stats struct {
	Hits          uint64 // lookups answered from memory
	Misses        uint64 // lookups that asked the service (or would have)
	Invalidations uint64 // entries dropped because an event could have changed them
	Stale         uint64 // lookups answered with a last known good entry: the service did not answer
	Refreshes     uint64 // dropped entries read again in the background
	Evictions     uint64 // entries dropped to stay within MaxEntries
	Reconnects    uint64 // broker connections made after a loss
	Resyncs       uint64 // catch-ups completed after a reconnect
	Entries       int    // entries held, negative ones included
	Position      int64  // highest global event position applied
	// Synced is the position up to which every event is known applied
	// (where a catch-up after a broker loss starts); -1 while unknown.
	Synced int64
	State  State
	// ServiceAvailable is false after a call to the service failed, until
	// one succeeds.
	ServiceAvailable bool
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := c.cache.Stats()
	return Stats{
		Hits: s.Hits, Misses: s.Misses, Invalidations: s.Invalidations,
		Stale: c.staleServed.Load(), Refreshes: c.refreshes.Load(), Evictions: s.Evictions,
		Reconnects: c.reconnects.Load(), Resyncs: c.resyncs.Load(),
		Entries: s.Entries, Position: s.Position, Synced: c.synced.Load(),
		State: c.State(), ServiceAvailable: !c.serviceDown.Load(),
	}
}

// sleep waits d or until the client closes; it reports false when closed.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
