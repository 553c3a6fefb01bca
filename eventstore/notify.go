package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Signal wakes every Notifier on the database, as a commit does, with the
// head position.
func (s *Reader) Signal(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, (SELECT position FROM es_head WHERE id = 1)::text)`, NotifyChannel)
	if err != nil {
		return fmt.Errorf("signal readers: %w", err)
	}
	return nil
}

// Notifier turns the store's NOTIFY signals into wake-ups for readers. It keeps
// one dedicated connection LISTENing and reconnects after failures; readers
// must still poll slowly, since signals sent while it is reconnecting are lost.
type Notifier struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// NewNotifier returns a Notifier; Run it to start listening.
func NewNotifier(pool *pgxpool.Pool, log *slog.Logger) *Notifier {
	return &Notifier{pool: pool, log: log, subs: map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value (coalesced) after new
// events commit, and a function that ends the subscription.
func (n *Notifier) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	n.subs[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs, ch)
		n.mu.Unlock()
	}
}

// Poke wakes the subscribers as a NOTIFY would: the event store calls it
// (Config.Committed) after every commit in this process.
func (n *Notifier) Poke() { n.wake() }

func (n *Notifier) wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Run listens until ctx ends, reconnecting with backoff.
func (n *Notifier) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		n.log.Warn("event notifications interrupted; reconnecting", "error", err, "retry_in", backoff.String())
		n.wake() // readers catch up by polling what may have been missed
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func (n *Notifier) listen(ctx context.Context) error {
	c, err := n.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := c.Hijack() // a dedicated connection: LISTEN state must not return to the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	n.wake()
	for {
		// A connection cut off without a reset never fails a wait: ping it
		// after a quiet spell, and reconnect when it does not answer.
		wctx, cancel := context.WithTimeout(ctx, listenCheckInterval)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			n.wake()
		case ctx.Err() != nil:
			return err
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, listenCheckInterval/2)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("listening connection does not answer: %w", err)
			}
		default:
			return err
		}
	}
}

// listenCheckInterval is how long the listening connection may stay quiet
// before it is pinged.
const listenCheckInterval = 10 * time.Second
