// Package testkit holds the small helpers every package's tests need: a
// settable clock, a logger that speaks only when asked, and polling for a
// condition that becomes true in the background. It depends on the standard
// library only, so tests that must run without PostgreSQL, Redis or RabbitMQ
// (handlers, tenants) can use it; testenv is the one for the real services.
package testkit

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock, safe for concurrent use. Pass its Now method
// where code takes a func() time.Time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Epoch is where a NewClock starts: a fixed instant, so that tests do not
// depend on the day they run.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a clock standing at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// NewClockAt returns a clock standing at t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Logger returns a JSON logger for code under test. It discards everything
// unless TEST_LOG names a level (debug, info, warn, error); then it writes at
// that level to stderr, so a failing run can be repeated with its logs.
func Logger() *slog.Logger {
	var level slog.Level
	if s := os.Getenv("TEST_LOG"); s == "" || level.UnmarshalText([]byte(s)) != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// LoggerTo returns a JSON logger writing every level to w, for tests that
// read what was logged.
func LoggerTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Poll is how often Eventually and Until check.
const Poll = 20 * time.Millisecond

// Eventually calls check every Poll until it returns nil, and fails the test
// with check's last error when within has passed. The bound is a ceiling for
// a slow machine, not a timing claim: timings belong in benchmarks.
func Eventually(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(Poll)
	}
}

// Until is Eventually for a condition without an error: what says what was
// awaited.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, within, func() error {
		if cond() {
			return nil
		}
		return errors.New("waiting for " + what)
	})
}
