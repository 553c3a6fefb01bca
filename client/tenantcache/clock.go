package tenantcache

// clock is the ring the CLOCK eviction walks: every entry has a slot; a hit
// sets the entry's ref flag, and the hand clears a set flag once before it
// evicts the entry on its next pass. Callers hold the cache's mu.
type clock[V Value] struct {
	slots []*entry[V]
	free  []int32
	hand  int
}

func (c *clock[V]) add(e *entry[V]) {
	if n := len(c.free); n > 0 {
		e.slot = c.free[n-1]
		c.free = c.free[:n-1]
		c.slots[e.slot] = e
		return
	}
	e.slot = int32(len(c.slots))
	c.slots = append(c.slots, e)
}

// replace puts e in old's slot.
func (c *clock[V]) replace(old, e *entry[V]) {
	e.slot = old.slot
	c.slots[e.slot] = e
}

func (c *clock[V]) del(e *entry[V]) {
	c.slots[e.slot] = nil
	c.free = append(c.free, e.slot)
}

// victim returns the entry to evict: the first one after the hand whose
// ref flag is clear, clearing the flags it passes. It returns nil when
// there is no entry.
func (c *clock[V]) victim() *entry[V] {
	n := len(c.slots)
	for range 2*n + 1 {
		if c.hand >= n {
			c.hand = 0
		}
		e := c.slots[c.hand]
		c.hand++
		if e == nil {
			continue
		}
		if e.ref.Load() {
			e.ref.Store(false)
			continue
		}
		return e
	}
	return nil
}
