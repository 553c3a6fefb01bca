package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
)

// Source is the global event feed a Runner follows. The event store's Store
// satisfies it. Implementations must be safe for concurrent use.
type Source interface {
	// ReadFrom returns up to limit events with positions above after, in
	// position order, never skipping one that commits later with a lower position.
	ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error)
	// HeadPosition returns the position of the last committed event.
	HeadPosition(ctx context.Context) (domain.Position, error)
	// Signal wakes every process following the source (as a commit does),
	// so that a leader notices a rebuild request at once.
	Signal(ctx context.Context) error
}

// Waker signals that new events may have committed. The event store's
// Notifier satisfies it. Signals may be lost; the Runner also polls.
type Waker interface {
	// Subscribe returns a channel that receives a (coalesced) value after
	// events commit, and a function that ends the subscription.
	Subscribe() (<-chan struct{}, func())
}

// Projector turns events into a read model (or, for the relay, messages).
type Projector interface {
	// Name identifies the projector's checkpoint and leadership lock.
	// Persisted: renaming a projector makes it start again from position 0.
	Name() string
	// Handle applies a batch of consecutive events, in position order. The
	// Runner advances the checkpoint past the batch only when Handle returns
	// nil; otherwise it retries the same batch, so Handle must be idempotent.
	// An error wrapping ErrLost makes the Runner reset and replay from 0.
	Handle(ctx context.Context, events []domain.StoredEvent) error
}

// Resetter is implemented by projectors whose read model must be emptied
// before a rebuild replays every event from position 0.
type Resetter interface {
	// Reset removes everything the projector wrote.
	Reset(ctx context.Context) error
}

// Verifier is implemented by projectors whose store can lose data on its own,
// such as a Redis without persistence. The Runner calls Verify with the
// checkpoint before every read, also while idle; an error wrapping ErrLost
// makes it reset the projector and replay from position 0.
type Verifier interface {
	Verify(ctx context.Context, checkpoint domain.Position) error
}

// ErrLost reports that a projector's read model lost data behind its
// checkpoint; the Runner answers it by resetting and replaying from 0.
// Projectors return it wrapped, from Handle or Verify.
var ErrLost = errors.New("read model lost its data")

// RunnerConfig tunes a Runner. Zero fields take their defaults.
type RunnerConfig struct {
	// BatchSize is how many events one Handle call receives at most. Default 500.
	BatchSize int
	// MinInterval spaces out a projector's reads under load: woken less than
	// this after its previous read, it waits for the rest, so the commits
	// meanwhile make one batch. Default 20ms; an idle projector reads at once.
	MinInterval time.Duration
	// PollInterval is the safety-net poll while idle, for wake-ups that were
	// lost. Default 1s.
	PollInterval time.Duration
	// LockRetryInterval is how often a replica that is not the leader tries to
	// take the projector's lock. Default 1s.
	LockRetryInterval time.Duration
	// HeartbeatInterval is how often the leader proves it is alive on its
	// lock connection (a ping that must answer within 3 intervals); when one
	// fails the leader stops handling at once. Default 1s.
	HeartbeatInterval time.Duration
	// LeaseTimeout is how long PostgreSQL keeps the lock of a leader that went
	// silent (cut off without a reset, a hung host): the lock connection is
	// set to idle_session_timeout = LeaseTimeout, so the server ends the
	// session, and frees the lock for a survivor, that long after the last
	// heartbeat. It must exceed 4 heartbeat intervals, so that a silent leader
	// has stopped itself before anyone else can lead. Default 10s.
	LeaseTimeout time.Duration
	// MinBackoff is the first wait after a failed batch; the wait doubles
	// with each further failure. Default 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between retries of a failing batch. Default 15s.
	MaxBackoff time.Duration
}

func (c *RunnerConfig) setDefaults() {
	c.BatchSize = orDefault(c.BatchSize, 500)
	c.PollInterval = orDefault(c.PollInterval, time.Second)
	c.MinInterval = orDefault(c.MinInterval, 20*time.Millisecond)
	c.LockRetryInterval = orDefault(c.LockRetryInterval, time.Second)
	c.HeartbeatInterval = orDefault(c.HeartbeatInterval, time.Second)
	c.LeaseTimeout = orDefault(c.LeaseTimeout, 10*time.Second)
	c.MinBackoff = orDefault(c.MinBackoff, 100*time.Millisecond)
	c.MaxBackoff = orDefault(c.MaxBackoff, 15*time.Second)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Validate reports every invalid field.
func (c RunnerConfig) Validate() error {
	var errs []error
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("batch size must not be negative"))
	}
	for name, d := range map[string]time.Duration{"poll interval": c.PollInterval,
		"lock retry interval": c.LockRetryInterval, "heartbeat interval": c.HeartbeatInterval, "lease timeout": c.LeaseTimeout,
		"min backoff": c.MinBackoff, "max backoff": c.MaxBackoff} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	d := c
	d.setDefaults()
	if d.LeaseTimeout <= 4*d.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("lease timeout %s must exceed 4 heartbeat intervals (%s)", d.LeaseTimeout, 4*d.HeartbeatInterval))
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		errs = append(errs, errors.New("min backoff must not exceed max backoff"))
	}
	return errors.Join(errs...)
}

// Runner runs asynchronous projectors: one leader per projector across every
// replica on the database (a PostgreSQL session advisory lock), catch-up from
// the checkpoint in projector_checkpoints, then following new events. It is safe for
// concurrent use; run each projector in its own goroutine.
type Runner struct {
	pool *pgxpool.Pool
	src  Source
	wake Waker
	log  *slog.Logger
	cfg  RunnerConfig
}

// NewRunner returns a Runner. wake may be nil (then the Runner only polls);
// log may be nil.
func NewRunner(pool *pgxpool.Pool, src Source, wake Waker, log *slog.Logger, cfg RunnerConfig) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projections runner config: %w", err)
	}
	if pool == nil || src == nil {
		return nil, errors.New("projections runner: pool and source are required")
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{pool: pool, src: src, wake: wake, log: log, cfg: cfg}, nil
}

// Run runs the projector until ctx ends, then returns nil. While another
// replica leads the projector it waits and retries; when its own lock
// connection dies it stops handling at once and contends again.
func (r *Runner) Run(ctx context.Context, p Projector) error {
	name := p.Name()
	if name == "" {
		return errors.New("projections runner: projector has no name")
	}
	log := r.log.With("projector", name)
	for ctx.Err() == nil {
		l, err := r.contend(ctx, name, true)
		if err != nil {
			break // ctx ended
		}
		log.Info("projector leadership acquired")
		err = r.lead(ctx, l, p, leadOptions{})
		l.release()
		if ctx.Err() != nil {
			break
		}
		log.Warn("projector leadership lost; contending again", "error", err)
		sleep(ctx, r.cfg.LockRetryInterval)
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// backoff doubles a wait from min to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	b.cur = min(max(b.cur*2, b.min), b.max)
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
