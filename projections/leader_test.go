package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// lockHolder returns the backend pid holding the projector's advisory lock, or 0.
func (f *fixture) lockHolder(name string) int {
	f.t.Helper()
	key := projections.LockKey(name)
	var pid int
	err := f.pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND classid::bigint = $1 AND objid::bigint = $2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return pid
}

// handledTwice returns a position more than one recorder (or one twice) handled.
func handledTwice(recs ...*recorder) (domain.Position, bool) {
	seen := map[domain.Position]bool{}
	for _, r := range recs {
		for _, p := range r.positions() {
			if seen[p] {
				return p, true
			}
			seen[p] = true
		}
	}
	return 0, false
}

func union(recs ...*recorder) int {
	n := 0
	for _, r := range recs {
		n += len(r.positions())
	}
	return n
}

func TestOneLeaderPerProjectorAndTakeover(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const name = "test.leader"
	a, b := &recorder{name: name}, &recorder{name: name}
	stopA := start(t, f.runner(fastRunner), a)
	testkit.Until(t, 10*time.Second, "a leads", func() bool { return f.lockHolder(name) != 0 })
	stopB := start(t, f.runner(fastRunner), b)

	head := addTenants(f, 30)
	testkit.Until(t, 20*time.Second, "first events handled", func() bool { return union(a, b) >= int(head) })
	// Give a second leader, if there were one, time to handle the same events.
	time.Sleep(3 * fastRunner.PollInterval)
	if p, twice := handledTwice(a, b); twice {
		t.Fatalf("position %d handled twice: a doubled stream", p)
	}
	if len(b.positions()) != 0 {
		t.Fatalf("the follower handled %d events while the leader ran", len(b.positions()))
	}

	// The leader stops: the follower takes over.
	stopA()
	more := addTenants(f, 5)
	testkit.Until(t, 20*time.Second, "takeover after the leader stopped", func() bool { return b.last() >= more })
	// A leader killed after handling a batch but before recording its
	// checkpoint leaves that batch to the next leader (at least once). Kill
	// this one once its checkpoint holds what it handled: every event is
	// then handled exactly once.
	statusOf := f.runner(fastRunner)
	testkit.Until(t, 20*time.Second, "the new leader's checkpoint", func() bool { return status(t, statusOf, name).Position >= more })

	// The new leader's lock connection is killed: it stops and a restarted
	// replica (or itself, re-contending) carries on.
	c := &recorder{name: name}
	start(t, f.runner(fastRunner), c)
	holder := f.lockHolder(name)
	if holder == 0 {
		t.Fatal("nobody holds the lock")
	}
	if _, err := f.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, holder); err != nil {
		t.Fatal(err)
	}
	testkit.Until(t, 20*time.Second, "a new lock holder", func() bool {
		h := f.lockHolder(name)
		return h != 0 && h != holder
	})
	last := addTenants(f, 5)
	testkit.Until(t, 20*time.Second, "events after the kill handled", func() bool { return union(a, b, c) >= int(last) })
	time.Sleep(3 * fastRunner.PollInterval)
	if p, twice := handledTwice(a, b, c); twice {
		t.Fatalf("position %d handled twice after the takeover", p)
	}
	if union(a, b, c) != int(last) {
		t.Fatalf("handled %d events, want %d", union(a, b, c), last)
	}
	stopB()
}

func TestLeaderLosingItsConnectionStopsHandling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const name = "test.kill"
	addTenants(f, 20)
	started := make(chan struct{}, 1)
	rec := &recorder{name: name, delay: 50 * time.Millisecond}
	rec.fail = func([]domain.StoredEvent) error {
		select {
		case started <- struct{}{}:
		default:
		}
		return nil
	}
	cfg := fastRunner
	cfg.BatchSize = 1 // one event per batch: handling takes a while
	r := f.runner(cfg)
	start(t, r, rec)
	<-started
	holder := f.lockHolder(name)
	if _, err := f.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, holder); err != nil {
		t.Fatal(err)
	}
	// The checkpoint can only move through the lock connection, so the
	// killed term cannot advance it; the runner contends again and finishes.
	testkit.Until(t, 20*time.Second, "re-contended", func() bool {
		h := f.lockHolder(name)
		return h != 0 && h != holder
	})
	head := f.head()
	testkit.Until(t, 30*time.Second, "caught up after re-contending", func() bool {
		return status(t, r, name).Position == head
	})
	// Every event was handled at least once, in order, with no gap.
	ps := rec.positions()
	next := domain.Position(1)
	for _, p := range ps {
		if p > next {
			t.Fatalf("skipped from %d to %d", next, p)
		}
		if p == next {
			next++
		}
	}
	if next != head+1 {
		t.Fatalf("handled up to %d, want %d", next-1, head)
	}
}
