package ratelimit

import (
	"sync"
	"sync/atomic"
	"time"
)

// breaker stops calls to Redis after threshold failures in a row: it opens
// for cooldown, then lets a single probe through, whose success closes it and
// whose failure opens it again. Safe for concurrent use; closed, allow costs
// one atomic load.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool, cause error) // called outside the lock on every open/close transition

	open     atomic.Bool
	failures atomic.Int32 // failures in a row; written under mu, read without it

	mu        sync.Mutex
	openUntil time.Time
	probing   bool
}

// allow reports whether a call may go to Redis.
func (b *breaker) allow() bool {
	if !b.open.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

// success records a call Redis answered.
func (b *breaker) success() {
	if !b.open.Load() && b.failures.Load() == 0 {
		return
	}
	b.mu.Lock()
	wasOpen := b.open.Swap(false)
	b.failures.Store(0)
	b.probing = false
	b.mu.Unlock()
	if wasOpen && b.onChange != nil {
		b.onChange(false, nil)
	}
}

// failure records a call Redis failed or answered too late.
func (b *breaker) failure(cause error) {
	b.mu.Lock()
	b.probing = false
	opening := false
	if int(b.failures.Add(1)) >= b.threshold {
		opening = !b.open.Swap(true)
		b.openUntil = b.now().Add(b.cooldown)
	}
	b.mu.Unlock()
	if opening && b.onChange != nil {
		b.onChange(true, cause)
	}
}

// abandon records a call the caller gave up on: it says nothing about Redis,
// but a probe must not stay in flight forever.
func (b *breaker) abandon() {
	if b.open.Load() {
		b.mu.Lock()
		b.probing = false
		b.mu.Unlock()
	}
}

// isOpen reports whether calls are currently being skipped.
func (b *breaker) isOpen() bool { return b.open.Load() }
