package vault

import (
	"crypto/cipher"
	"sync"
	"time"

	"tenant-service/domain"
)

// keyCache keeps unwrapped data keys (as ready AES-GCM instances) in memory
// for a short time. It holds only keys read from committed rows.
//
// A Destroy bumps the generation: a load that began before it may have read
// the key just destroyed, so put refuses entries from an older generation.
type keyCache struct {
	ttl time.Duration // zero or negative: caching is off
	max int
	now func() time.Time

	mu      sync.Mutex
	gen     uint64
	entries map[domain.TenantID]cacheEntry
}

type cacheEntry struct {
	aead    cipher.AEAD
	expires time.Time
}

// evictSample bounds how many entries put inspects to make room: Go's map
// iteration starts at a random place, so this is a random sample.
const evictSample = 8

func newKeyCache(ttl time.Duration, max int, now func() time.Time) *keyCache {
	return &keyCache{ttl: ttl, max: max, now: now, entries: map[domain.TenantID]cacheEntry{}}
}

// generation returns the value to pass to put for a load starting now.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *keyCache) get(tenant domain.TenantID) (cipher.AEAD, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tenant]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, tenant)
		return nil, false
	}
	return e.aead, true
}

// put caches the tenant's key unless a Destroy happened since gen was read.
func (c *keyCache) put(tenant domain.TenantID, aead cipher.AEAD, gen uint64) {
	if c.ttl <= 0 || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	now := c.now()
	if _, ok := c.entries[tenant]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[tenant] = cacheEntry{aead: aead, expires: now.Add(c.ttl)}
}

// evict removes the expired entries of a small random sample, or one entry
// of it when none has expired.
func (c *keyCache) evict(now time.Time) {
	var victim domain.TenantID
	removed, seen := false, 0
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
			removed = true
		} else if victim == "" {
			victim = id
		}
		if seen++; seen >= evictSample {
			break
		}
	}
	if !removed {
		delete(c.entries, victim)
	}
}

// forget drops the tenant's key and invalidates loads in flight.
func (c *keyCache) forget(tenant domain.TenantID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, tenant)
}

// len returns the number of cached keys.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
