package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tenant-service/domain"
)

// FollowerConfig tunes a Follower. Zero fields take their defaults.
type FollowerConfig struct {
	// BatchSize is how many events one read returns at most. Default 500.
	BatchSize int
	// MinInterval spaces out reads under load (see RunnerConfig): under a
	// steady stream of commits the follower, and the projectors it feeds,
	// read every 20ms (the default) rather than after every commit.
	MinInterval time.Duration
	// PollInterval is the safety-net poll while idle, for wake-ups that were
	// lost. Default 1s.
	PollInterval time.Duration
	// MaxBackoff caps the wait between retries of a failed read. Default 2s.
	MaxBackoff time.Duration
	// Retain is how many of the latest events the follower keeps to serve
	// ReadFrom, so that the projectors of this process read the feed from
	// memory instead of each reading it again. Default 1024: the projectors
	// read at most BatchSize (500) at a time right behind the follower, and
	// every kept event is heap (4096 held 2.4 MB of a 13 MB live heap).
	Retain int
}

// Follower follows the event feed in this process, for state every replica
// keeps for itself (caches of data keys and tokens, in-memory read models):
// no leadership and no checkpoint, it starts at the head of the store when
// Run starts and hands every later event, in position order, to its
// handlers.
//
// It is also the feed of the projectors that lead in this process: as a
// Source it serves ReadFrom from the events it read last (falling back to
// the store for older ones), and as a Waker it wakes them after each read,
// so the log is read once per process, not once per reader. It is safe for
// concurrent use.
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

	mu     sync.Mutex
	recent []domain.StoredEvent // the latest events read, positions without a gap, the last at applied
	subs   map[chan struct{}]struct{}
}

// NewFollower returns a Follower over src; wake may be nil (then it only
// polls), log may be nil.
func NewFollower(src Source, wake Waker, log *slog.Logger, cfg FollowerConfig) (*Follower, error) {
	if src == nil {
		return nil, errors.New("follower: a source is required")
	}
	if cfg.BatchSize < 0 || cfg.PollInterval < 0 || cfg.MaxBackoff < 0 || cfg.MinInterval < 0 || cfg.Retain < 0 {
		return nil, errors.New("follower: batch size, intervals, max backoff and retain must not be negative")
	}
	cfg.Retain = orDefault(cfg.Retain, 1024)
	cfg.BatchSize = orDefault(cfg.BatchSize, 500)
	cfg.PollInterval = orDefault(cfg.PollInterval, time.Second)
	cfg.MinInterval = orDefault(cfg.MinInterval, 20*time.Millisecond)
	cfg.MaxBackoff = orDefault(cfg.MaxBackoff, 2*time.Second)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{src: src, wake: wake, log: log.With("component", "follower"), cfg: cfg, ready: make(chan struct{}),
		subs: map[chan struct{}]struct{}{}}, nil
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
	pc := pace{min: f.cfg.MinInterval}
	for ctx.Err() == nil {
		after := f.Position()
		pc.reading()
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
			// Pass the wake-up on: it may be a signal (a rebuild request)
			// rather than a commit.
			f.wakeSubscribers()
			pc.idle(ctx, wake, f.cfg.PollInterval)
		default:
			bo.reset()
			for _, h := range f.handlers {
				h(events)
			}
			f.keep(events)
			if len(events) < f.cfg.BatchSize {
				f.caughtUpAt(started)
			}
			f.wakeSubscribers()
			if len(events) < f.cfg.BatchSize {
				// Read to the head: wait for the next commit's wake-up (one
				// that came after the read is already there).
				pc.idle(ctx, wake, f.cfg.PollInterval)
			}
		}
	}
	return nil
}

// keep records a batch handled: the applied position, and the events for
// ReadFrom.
func (f *Follower) keep(events []domain.StoredEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) > 0 && f.recent[len(f.recent)-1].Position+1 != events[0].Position {
		f.recent = f.recent[:0] // not contiguous (cannot happen: the feed has no gaps)
	}
	f.recent = append(f.recent, events...)
	if over := len(f.recent) - f.cfg.Retain; over > f.cfg.Retain {
		f.recent = append([]domain.StoredEvent(nil), f.recent[over:]...)
	}
	f.applied.Store(int64(events[len(events)-1].Position))
}

// ReadFrom returns up to limit events after the position, in position
// order: from memory when the follower read them last, nothing when it has
// read nothing newer yet (its wake-up follows when it does), and from the
// store when they are older than what it keeps or it has not started.
func (f *Follower) ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error) {
	select {
	case <-f.ready:
	default:
		return f.src.ReadFrom(ctx, after, limit)
	}
	f.mu.Lock()
	applied := domain.Position(f.applied.Load())
	if after >= applied {
		f.mu.Unlock()
		return nil, nil
	}
	if n := len(f.recent); n > 0 && f.recent[0].Position <= after+1 {
		i := int(after + 1 - f.recent[0].Position)
		out := slices.Clone(f.recent[i:min(n, i+limit)])
		f.mu.Unlock()
		return out, nil
	}
	f.mu.Unlock()
	return f.src.ReadFrom(ctx, after, limit)
}

// HeadPosition is the store's.
func (f *Follower) HeadPosition(ctx context.Context) (domain.Position, error) {
	return f.src.HeadPosition(ctx)
}

// Signal is the store's: it wakes every follower, which wakes its subscribers.
func (f *Follower) Signal(ctx context.Context) error { return f.src.Signal(ctx) }

// Subscribe returns a channel that receives a (coalesced) value after each
// read of the follower, and a function that ends the subscription.
func (f *Follower) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

func (f *Follower) wakeSubscribers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
