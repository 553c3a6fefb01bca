package tenantcache

// changeLog remembers the last changes applied, so Put can tell whether a
// fetch that started before them may have missed them. Callers hold the
// cache's mu.
type changeLog struct {
	ring []Change
	seq  uint64 // number of changes ever added; ring[(seq-1)%len] is the last
}

func (l *changeLog) add(ch Change) {
	l.seq++
	l.ring[(l.seq-1)%uint64(len(l.ring))] = ch
}

// consistent reports whether an answer for key k fetched with ticket t may
// be stored: no change applied after the ticket, beyond the ticket's
// position, names the key or the answer's tenant, unless the answer already
// holds that change's version of the tenant.
func (l *changeLog) consistent(t Ticket, k Key, found bool, tenantID string, version int64) bool {
	if l.seq-t.seq > uint64(len(l.ring)) {
		return false // too many changes since: cannot tell
	}
	for s := t.seq + 1; s <= l.seq; s++ {
		ch := l.ring[(s-1)%uint64(len(l.ring))]
		if ch.Position > 0 && ch.Position <= t.pos {
			continue // the fetch asked for at least this position
		}
		if found && tenantID == ch.TenantID {
			if ch.Version > 0 && version >= ch.Version {
				continue // the answer already has it
			}
			return false
		}
		if names(ch, k) {
			return false
		}
	}
	return true
}

// names reports whether the change names the key.
func names(ch Change, k Key) bool {
	if k.Kind == KindTenant && k.ID == ch.TenantID {
		return true
	}
	for _, n := range ch.Keys {
		if n == k {
			return true
		}
	}
	return false
}
