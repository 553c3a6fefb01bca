package projections

import (
	"sync"
	"sync/atomic"
	"time"
)

// outcome is how a guarded call went.
type outcome int

const (
	outcomeOK      outcome = iota // the dependency answered (a miss included)
	outcomeFailed                 // the dependency failed or timed out
	outcomeNeutral                // the caller gave up; says nothing about the dependency
)

// breaker is a circuit breaker: after threshold failures in a row it opens
// and refuses calls for cooldown, then lets one probe through; the probe's
// success closes it. Safe for concurrent use; closed, it costs two atomic loads.
type breaker struct {
	threshold int32
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool) // called outside the lock when it opens or closes

	failures atomic.Int32
	tripped  atomic.Bool

	mu        sync.Mutex
	openUntil time.Time
	probing   bool
}

// allow reports whether a call may go to the dependency.
func (b *breaker) allow() bool {
	if !b.tripped.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.tripped.Load() {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

// record counts the outcome of an allowed call.
func (b *breaker) record(o outcome) {
	switch o {
	case outcomeOK:
		if b.failures.Load() == 0 && !b.tripped.Load() {
			return
		}
		b.mu.Lock()
		wasOpen := b.tripped.Swap(false)
		b.failures.Store(0)
		b.probing = false
		b.mu.Unlock()
		if wasOpen && b.onChange != nil {
			b.onChange(false)
		}
	case outcomeFailed:
		b.mu.Lock()
		opening := false
		b.probing = false
		if b.failures.Add(1) >= b.threshold {
			opening = !b.tripped.Swap(true)
			b.openUntil = b.now().Add(b.cooldown)
		}
		b.mu.Unlock()
		if opening && b.onChange != nil {
			b.onChange(true)
		}
	case outcomeNeutral:
		if b.tripped.Load() {
			b.mu.Lock()
			b.probing = false
			b.mu.Unlock()
		}
	}
}
