package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"tenant-service/domain"
)

// FollowerConfig tunes a Follower. Zero fields take their defaults.
type FollowerConfig struct {
	// BatchSize is how many events one read returns at most. Default 500.
	BatchSize int
	// PollInterval is the safety-net poll while idle, for wake-ups that were
	// lost. Default 1s.
	PollInterval time.Duration
	// MaxBackoff caps the wait between retries of a failed read. Default 2s.
	MaxBackoff time.Duration
}

// Follower follows the event feed in this process, for state every replica
// keeps for itself (caches of data keys and tokens, in-memory read models):
// no leadership and no checkpoint, it starts at the head of the store when
// Run starts and hands every later event, in position order, to its
// handlers. It is safe for concurrent use.
type Follower struct {
	src      Source
	wake     Waker
	log      *slog.Logger
	cfg      FollowerConfig
	handlers []func(events []domain.StoredEvent)
	applied  atomic.Int64
	// caughtUp is when (nanoseconds after monoEpoch; 0: never) the last
	// read that reached the end of the feed started: every event committed
	// before then has been handed to the handlers.
	caughtUp atomic.Int64
	ready    chan struct{}
}

// NewFollower returns a Follower over src; wake may be nil (then it only
// polls), log may be nil.
func NewFollower(src Source, wake Waker, log *slog.Logger, cfg FollowerConfig) (*Follower, error) {
	if src == nil {
		return nil, errors.New("follower: a source is required")
	}
	if cfg.BatchSize < 0 || cfg.PollInterval < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("follower: batch size, poll interval and max backoff must not be negative")
	}
	cfg.BatchSize = orDefault(cfg.BatchSize, 500)
	cfg.PollInterval = orDefault(cfg.PollInterval, time.Second)
	cfg.MaxBackoff = orDefault(cfg.MaxBackoff, 2*time.Second)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{src: src, wake: wake, log: log.With("component", "follower"), cfg: cfg, ready: make(chan struct{})}, nil
}

// Handle registers a handler for every batch of events, before Run. A
// handler must be quick and must not fail: it updates memory.
func (f *Follower) Handle(h func(events []domain.StoredEvent)) {
	f.handlers = append(f.handlers, h)
}

// Position returns the last position every handler has seen.
func (f *Follower) Position() domain.Position { return domain.Position(f.applied.Load()) }

// monoEpoch anchors Follower.caughtUp: a time kept as the duration since
// it keeps its monotonic clock reading, so a step of the wall clock does not
// age it.
var monoEpoch = time.Now()

// CaughtUpAt returns when the last read that reached the end of the feed
// started (the zero time before Run found the head): the handlers have seen
// every event committed before then. While the follower keeps up it is at
// most about PollInterval old; reads that fail or lag let it age.
func (f *Follower) CaughtUpAt() time.Time {
	d := f.caughtUp.Load()
	if d == 0 {
		return time.Time{}
	}
	return monoEpoch.Add(time.Duration(d))
}

// caughtUpAt records that a read started at t reached the end of the feed.
func (f *Follower) caughtUpAt(t time.Time) {
	f.caughtUp.Store(max(int64(t.Sub(monoEpoch)), 1))
}

// Ready is closed once Run has found the head it starts from.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Run follows the feed until ctx ends, then returns nil.
func (f *Follower) Run(ctx context.Context) error {
	var wake <-chan struct{}
	if f.wake != nil {
		ch, unsubscribe := f.wake.Subscribe()
		defer unsubscribe()
		wake = ch
	}
	bo := backoff{min: 50 * time.Millisecond, max: f.cfg.MaxBackoff}
	for ctx.Err() == nil {
		started := time.Now()
		head, err := f.src.HeadPosition(ctx)
		if err == nil {
			f.applied.Store(int64(head))
			f.caughtUpAt(started)
			close(f.ready)
			break
		}
		f.log.Warn("follower cannot read the head; retrying", "error", err)
		sleep(ctx, bo.next())
	}
	bo.reset()
	for ctx.Err() == nil {
		after := f.Position()
		started := time.Now()
		events, err := f.src.ReadFrom(ctx, after, f.cfg.BatchSize)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			wait := bo.next()
			f.log.Warn("follower read failed; retrying", "error", fmt.Errorf("read after %d: %w", after, err), "retry_in", wait.String())
			sleep(ctx, wait)
		case len(events) == 0:
			bo.reset()
			f.caughtUpAt(started)
			t := time.NewTimer(f.cfg.PollInterval)
			select {
			case <-ctx.Done():
			case <-wake:
			case <-t.C:
			}
			t.Stop()
		default:
			bo.reset()
			for _, h := range f.handlers {
				h(events)
			}
			f.applied.Store(int64(events[len(events)-1].Position))
			if len(events) < f.cfg.BatchSize {
				f.caughtUpAt(started)
			}
		}
	}
	return nil
}
