package tenantcache

// tenantRec is what the cache knows about one tenant: the entries that
// answer it, the highest version it answered or was told of (the floor no
// answer may go below), and the highest version a change told of.
//
// A record lives while the tenant has entries. When its last entry goes
// while an answer was newer than every change applied for the tenant (the
// source answered ahead of the event feed), a later fetch could still be
// answered by a source that lags: the record then stays, without entries,
// as an orphan, until a change confirms its floor or newer orphans push it
// out (orphans.limit).
type tenantRec[V Value] struct {
	floor     int64
	confirmed int64
	entries   []*entry[V]
	orphan    uint64 // its ticket in the orphan queue; 0: not an orphan
}

// orphans is the queue of records without entries, oldest first. A record
// that gains an entry again leaves its ticket behind; tickets are checked
// when they come out.
type orphans struct {
	queue []orphanTicket
	seq   uint64
	live  int
	limit int
}

type orphanTicket struct {
	tenantID string
	seq      uint64
}

// index records that the entry answers the tenant, (re)inserting its
// record: unindexing the key's previous entry may have released it.
// Callers hold mu.
func (c *Cache[V]) index(rec *tenantRec[V], e *entry[V]) {
	if rec.orphan != 0 {
		rec.orphan = 0
		c.orphans.live--
	}
	tenantID, _ := e.tenant()
	c.tenants[tenantID] = rec
	rec.entries = append(rec.entries, e)
}

// unindex forgets that the entry's key answers its tenant. Callers hold mu.
func (c *Cache[V]) unindex(e *entry[V]) {
	if !e.found {
		c.negative--
		return
	}
	tenantID, _ := e.tenant()
	rec := c.tenants[tenantID]
	if rec == nil {
		return
	}
	for i, x := range rec.entries {
		if x == e {
			last := len(rec.entries) - 1
			rec.entries[i], rec.entries[last] = rec.entries[last], nil
			rec.entries = rec.entries[:last]
			break
		}
	}
	if len(rec.entries) == 0 {
		c.release(tenantID, rec)
	}
}

// release handles a record without entries: it goes when a change
// confirmed its floor, and otherwise waits as an orphan. Callers hold mu.
func (c *Cache[V]) release(tenantID string, rec *tenantRec[V]) {
	if rec.floor <= rec.confirmed {
		if rec.orphan != 0 {
			rec.orphan = 0
			c.orphans.live--
		}
		delete(c.tenants, tenantID)
		return
	}
	if rec.orphan != 0 {
		return
	}
	o := &c.orphans
	o.seq++
	rec.orphan = o.seq
	o.queue = append(o.queue, orphanTicket{tenantID, o.seq})
	o.live++
	for o.live > o.limit && len(o.queue) > 0 {
		t := o.queue[0]
		o.queue = o.queue[1:]
		if r := c.tenants[t.tenantID]; r != nil && r.orphan == t.seq {
			delete(c.tenants, t.tenantID)
			o.live--
		}
	}
	if len(o.queue) > 2*o.live+64 { // mostly tickets left behind: compact
		live := make([]orphanTicket, 0, o.live)
		for _, t := range o.queue {
			if r := c.tenants[t.tenantID]; r != nil && r.orphan == t.seq {
				live = append(live, t)
			}
		}
		o.queue = live
	}
}
