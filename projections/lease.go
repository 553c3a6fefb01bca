package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// lockKeyPrefix seeds the advisory-lock key of each projector. Every replica
// must derive the same key: changing it lets an old and a new replica lead
// the same projector at once during a rolling deploy.
const lockKeyPrefix = "tenant-service/projector:"

// LockKey returns the PostgreSQL advisory-lock key that the leader of the
// named projector holds (a session lock, see pg_locks).
func LockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(lockKeyPrefix + name))
	return int64(h.Sum64())
}

// errHeld reports that another session holds the projector's lock.
var errHeld = errors.New("another process leads the projector")

// errReleased ends a lease's context when its holder lets it go.
var errReleased = errors.New("lease released")

// lease is the leadership of one projector: a dedicated connection holding
// the session advisory lock. Checkpoint writes go through that connection, so
// a replica that lost the lock can never move the checkpoint.
type lease struct {
	name   string
	key    int64
	ctx    context.Context // ends when the connection dies or the lease is released
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the heartbeat stops

	mu     sync.Mutex
	conn   *pgx.Conn
	hasRow bool // the projector_checkpoints row is known to exist
}

// contend takes the projector's lock. With wait it retries until it holds the
// lock or ctx ends; without, a lock held elsewhere returns errHeld.
func (r *Runner) contend(ctx context.Context, name string, wait bool) (*lease, error) {
	key := LockKey(name)
	var conn *pgx.Conn
	closeConn := func() {
		if conn != nil {
			closeQuietly(conn)
			conn = nil
		}
	}
	for {
		var err error
		if conn == nil {
			conn, err = r.dial(ctx)
		}
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err == nil {
				if got {
					return r.hold(ctx, name, conn), nil
				}
				err = errHeld
			} else {
				closeConn()
			}
		}
		if ctx.Err() != nil || !wait {
			closeConn()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if !errors.Is(err, errHeld) {
			r.log.Warn("projector lock unavailable; retrying", "projector", name, "error", err)
		}
		sleep(ctx, r.cfg.LockRetryInterval)
	}
}

// dial returns a connection of its own, outside the pool: the lock lives as
// long as the session, which must never return to the pool. The session is
// told to end itself when it hears nothing for LeaseTimeout (the heartbeat
// speaks every HeartbeatInterval), and to give up on a peer that stops
// acknowledging or answering keepalives: PostgreSQL then frees a silent
// leader's lock within seconds instead of after the operating system's TCP
// keepalive (about two hours).
func (r *Runner) dial(ctx context.Context) (*pgx.Conn, error) {
	c, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock connection: %w", err)
	}
	conn := c.Hijack()
	ms := r.cfg.LeaseTimeout.Milliseconds()
	// A checkpoint's commit need not wait for the WAL flush: one lost in a
	// crash moves back a little, and the events after it are handled again,
	// as after any failure (delivery is at least once).
	if _, err := conn.Exec(ctx, fmt.Sprintf(`SET idle_session_timeout = %d; SET tcp_user_timeout = %d;
		SET tcp_keepalives_idle = %d; SET tcp_keepalives_interval = %d; SET tcp_keepalives_count = 3;
		SET synchronous_commit = off`,
		ms, ms, max(ms/2000, 1), max(ms/6000, 1))); err != nil {
		closeQuietly(conn)
		return nil, fmt.Errorf("lock connection: set its timeouts: %w", err)
	}
	return conn, nil
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx) // closing the session releases its advisory locks
}

// hold starts the heartbeat of a freshly taken lock.
func (r *Runner) hold(ctx context.Context, name string, conn *pgx.Conn) *lease {
	lctx, cancel := context.WithCancelCause(ctx)
	l := &lease{name: name, key: LockKey(name), ctx: lctx, cancel: cancel, done: make(chan struct{}), conn: conn}
	go l.heartbeat(r.cfg.HeartbeatInterval)
	return l
}

// heartbeat pings the lock connection; when it fails (or takes longer than
// three intervals) the lease's context ends, which stops the projector's
// Handle at once: a leader that cannot prove it is alive stops before
// PostgreSQL (LeaseTimeout later) lets another replica lead.
func (l *lease) heartbeat(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		err := l.do(func(conn *pgx.Conn) error {
			ctx, cancel := context.WithTimeout(l.ctx, 3*interval)
			defer cancel()
			return conn.Ping(ctx)
		})
		if err != nil {
			l.cancel(fmt.Errorf("lock connection lost: %w", err))
			return
		}
	}
}

// do runs fn on the lock connection; any failure ends the lease, since the
// session (and with it the lock) may be gone.
func (l *lease) do(fn func(conn *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return errReleased
	}
	if err := fn(l.conn); err != nil {
		l.cancel(fmt.Errorf("lock connection: %w", err))
		return fmt.Errorf("checkpoint %s: %w", l.name, err)
	}
	return nil
}

// release stops the heartbeat, unlocks and closes the connection. Unlocking
// explicitly frees the lock at once; closing alone frees it when the server
// notices.
func (l *lease) release() {
	l.cancel(errReleased)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	if !l.conn.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		cancel()
	}
	closeQuietly(l.conn)
	l.conn = nil
}

// checkpoint is a projector's row in projector_checkpoints.
type checkpoint struct {
	position   domain.Position
	generation int64
	rebuild    bool // a rebuild was requested and has not started yet
}

func (l *lease) read() (checkpoint, error) {
	var cp checkpoint
	err := l.do(func(conn *pgx.Conn) error {
		if !l.hasRow {
			if _, err := conn.Exec(l.ctx, `INSERT INTO projector_checkpoints (subscriber) VALUES ($1) ON CONFLICT DO NOTHING`, l.name); err != nil {
				return err
			}
			l.hasRow = true
		}
		return conn.QueryRow(l.ctx, `SELECT position, generation, rebuild_requested_at IS NOT NULL
			FROM projector_checkpoints WHERE subscriber = $1`, l.name).Scan(&cp.position, &cp.generation, &cp.rebuild)
	})
	return cp, err
}

func (l *lease) advance(to domain.Position) error {
	return l.do(func(conn *pgx.Conn) error {
		_, err := conn.Exec(l.ctx, `UPDATE projector_checkpoints SET position = $2, updated_at = now(), last_error = NULL
			WHERE subscriber = $1`, l.name, int64(to))
		return err
	})
}

func (l *lease) recordError(cause error) error {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return l.do(func(conn *pgx.Conn) error {
		_, err := conn.Exec(l.ctx, `UPDATE projector_checkpoints SET last_error = $2 WHERE subscriber = $1`, l.name, msg)
		return err
	})
}

// restart moves the checkpoint to 0 after the read model was reset, starts a
// new generation and clears a pending rebuild request.
func (l *lease) restart() error {
	return l.do(func(conn *pgx.Conn) error {
		_, err := conn.Exec(l.ctx, `UPDATE projector_checkpoints SET position = 0, generation = generation + 1,
			rebuild_requested_at = NULL, last_error = NULL, updated_at = now() WHERE subscriber = $1`, l.name)
		return err
	})
}
