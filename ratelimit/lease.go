package ratelimit

import (
	"sync"
	"time"
)

// leaseShare is the share of a limit's per-second budget one lease reserves:
// at 20,000/s a replica asks Redis once per 200 requests instead of every
// time. A replica can run ahead of the shared bucket by at most one lease,
// and a lease's unused tokens are simply lost when it expires.
const (
	leaseShare    = 100 // 1/100 of a second's budget
	leaseLifetime = time.Second
	minLeaseSize  = 2
)

// leaseSize is how many tokens one lease reserves under l (1: no leases).
func (l Limit) leaseSize() int {
	n := l.PerSecond / leaseShare
	if n < minLeaseSize || l.Unlimited() {
		return 1
	}
	return min(n, l.burst())
}

type lease struct {
	limit   Limit
	tokens  int
	expires time.Time
	// refusedUntil: Redis refused before then, so every request until then
	// is refused here without asking again.
	refusedUntil time.Time
}

// leases are the tokens this replica reserved per bucket. Safe for concurrent use.
type leases struct {
	mu sync.Mutex
	m  map[string]*lease
}

func newLeases() *leases { return &leases{m: map[string]*lease{}} }

// take spends one leased token of key, if a live lease for the same limit
// has one, and returns how many are left.
func (ls *leases) take(key string, l Limit, now time.Time) (int, bool) {
	if l.leaseSize() <= 1 {
		return 0, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	le := ls.m[key]
	if le == nil || le.tokens == 0 || le.limit != l || now.After(le.expires) {
		return 0, false
	}
	le.tokens--
	return le.tokens, true
}

// grant adds n tokens reserved for key to its live lease (concurrent
// requests that all missed each reserve one; none of it is thrown away).
func (ls *leases) grant(key string, l Limit, n int, now time.Time) {
	ls.mu.Lock()
	if le := ls.m[key]; le != nil && le.limit == l && now.Before(le.expires) {
		le.tokens += n
		le.expires = now.Add(leaseLifetime)
		ls.mu.Unlock()
		return
	}
	ls.mu.Unlock()
	ls.put(key, &lease{limit: l, tokens: n, expires: now.Add(leaseLifetime)})
}

// refuse remembers that Redis refused key until the given time.
func (ls *leases) refuse(key string, l Limit, until time.Time) {
	ls.put(key, &lease{limit: l, refusedUntil: until})
}

// refused reports how long key stays refused, when Redis refused it lately
// under the same limit.
func (ls *leases) refused(key string, l Limit, now time.Time) (time.Duration, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	le := ls.m[key]
	if le == nil || le.limit != l || !now.Before(le.refusedUntil) {
		return 0, false
	}
	return le.refusedUntil.Sub(now), true
}

func (ls *leases) put(key string, le *lease) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.m) > 10000 { // keys come from API keys and tenants: bounded, but be safe
		clear(ls.m)
	}
	ls.m[key] = le
}
