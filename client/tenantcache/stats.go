package tenantcache

// Stats are the cache's counters since it was created, and its size now.
type Stats struct {
	Hits          uint64 // Get answered Fresh
	Misses        uint64 // Get answered Miss or Stale
	StaleHits     uint64 // Get answered Stale (also counted in Misses)
	Invalidations uint64 // entries dropped because a change could have changed them
	Evictions     uint64 // entries dropped to stay within MaxEntries
	Entries       int    // entries held now, negative ones included
	Negative      int    // negative entries held now
	Tenants       int    // tenants the cache keeps a version floor for
	Position      int64  // highest global position applied
}

// Stats returns the counters. Hits counted by Gets still running may be
// left out.
func (c *Cache[V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Hits:          c.hits.load(),
		Misses:        c.misses.Load(),
		StaleHits:     c.stale.Load(),
		Invalidations: c.invalidations,
		Evictions:     c.evictions,
		Entries:       c.count,
		Negative:      c.negative,
		Tenants:       len(c.tenants),
		Position:      c.pos,
	}
}

// Len returns the number of entries held.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}
