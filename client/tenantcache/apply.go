package tenantcache

// Change is one event of a tenant, as far as the cache is concerned.
type Change struct {
	TenantID string
	// Version is the tenant's stream version after the event (0: unknown).
	Version int64
	// Position is the event's global position (0: unknown).
	Position int64
	// Keys are the other keys the event names: a phone number linked or
	// unlinked, an integration id set. Their entries are dropped whoever
	// they answered, so a negative entry or a number that moved to this
	// tenant is read again. Apply keeps the slice; do not modify it after.
	Keys []Key
}

// Apply records a change event: it raises the applied position and the
// tenant's floor and drops every entry the event could have changed (the
// tenant's, its tenant-id key, and ch.Keys), except entries asked for at a
// position at or after the event's, or holding the event's version of the
// tenant or a newer one, which already reflect it. Applying an event twice
// or late is harmless. It returns the keys it dropped whose entries had
// been used since they were stored (the owner may refresh them).
func (c *Cache[V]) Apply(ch Change) (hot []Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos = max(c.pos, ch.Position)
	c.log.add(ch)
	rec := c.tenants[ch.TenantID]
	if rec != nil {
		rec.floor = max(rec.floor, ch.Version)
		rec.confirmed = max(rec.confirmed, ch.Version)
	}
	drop := func(e *entry[V]) {
		if e == nil {
			return
		}
		if tenantID, version := e.tenant(); reflects(e.fetchedAt, e.found, tenantID, version, ch) {
			return
		}
		if e.ref.Load() {
			hot = append(hot, e.key())
		}
		c.remove(e)
		c.invalidations++
	}
	drop(c.load(Key{KindTenant, ch.TenantID}))
	if rec != nil {
		// remove edits rec.entries: walk a copy.
		for _, e := range append([]*entry[V](nil), rec.entries...) {
			drop(c.load(e.key())) // nil if dropped as the tenant-id key above
		}
	}
	for _, k := range ch.Keys {
		drop(c.load(k))
	}
	if rec != nil && len(rec.entries) == 0 && c.tenants[ch.TenantID] == rec {
		c.release(ch.TenantID, rec) // an orphan whose floor the change may confirm
	}
	return hot
}

// reflects reports whether an answer (asked at position fetchedAt) already
// reflects the change: it was asked for at least the change's position, or
// it holds the change's tenant at the change's version or later.
func reflects(fetchedAt int64, found bool, tenantID string, version int64, ch Change) bool {
	if ch.Position > 0 && fetchedAt >= ch.Position {
		return true
	}
	return ch.Version > 0 && found && tenantID == ch.TenantID && version >= ch.Version
}

// Position returns the highest global position applied (by Apply or
// Advance): fetches ask for at least this position.
func (c *Cache[V]) Position() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// Advance raises the applied position to pos without a change, for an
// owner that learnt every event up to pos is reflected by any later answer
// (the head of the event log when it subscribed). A lower pos is ignored.
func (c *Cache[V]) Advance(pos int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos = max(c.pos, pos)
}

// MarkStale makes every entry stored so far, and every answer whose ticket
// was taken before this call, Stale until MarkFresh with the returned
// token. Call it when changes may have been missed (the event feed was
// lost); entries re-read afterwards are Fresh.
func (c *Cache[V]) MarkStale() (token uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.freshFrom.Store(c.gen)
	return c.gen
}

// MarkFresh makes the entries made Stale by MarkStale Fresh again, once the
// owner has applied every change it may have missed, unless MarkStale or
// Expire was called since (then only their token counts). Entries expired
// by Expire stay Stale. It reports whether it did.
func (c *Cache[V]) MarkFresh(token uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token != c.gen {
		return false
	}
	c.freshFrom.Store(c.base)
	return true
}

// Expire makes every entry stored so far, and every answer whose ticket was
// taken before this call, Stale until it is re-read, whatever MarkFresh
// does later: for an owner that cannot tell which changes it missed. Stale
// entries still answer Get, as the last known good answers.
func (c *Cache[V]) Expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.base = c.gen
	c.freshFrom.Store(c.gen)
}
