package projections_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// countingSource counts the reads that reach the store.
type countingSource struct {
	projections.Source
	reads atomic.Int64
}

func (c *countingSource) ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error) {
	c.reads.Add(1)
	return c.Source.ReadFrom(ctx, after, limit)
}

// startFollower runs a follower over src until the test ends.
func startFollower(t *testing.T, f *fixture, src projections.Source, cfg projections.FollowerConfig) *projections.Follower {
	t.Helper()
	fl, err := projections.NewFollower(src, f.notifier, testkit.Logger(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = fl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-fl.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("follower not ready")
	}
	return fl
}

// The follower serves the events it read last from memory, answers
// "nothing newer" without asking the store, and reads older events from the
// store; what it serves equals the store's feed.
func TestFollowerServesRecentEventsFromMemory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create("before the follower") // older than anything it keeps
	src := &countingSource{Source: f.store}
	fl := startFollower(t, f, src, projections.FollowerConfig{Retain: 8, MinInterval: time.Millisecond})
	start := fl.Position()
	for i := range 12 {
		f.create(fmt.Sprint("tenant ", i))
	}
	head := f.head()
	testkit.Until(t, 10*time.Second, "the follower to read to the head", func() bool { return fl.Position() == head })

	want, err := f.store.ReadFrom(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	reads := src.reads.Load()
	got, err := fl.ReadFrom(ctx, head-5, 3)
	if err != nil || !slices.EqualFunc(got, want[head-5:head-2], sameEvent) {
		t.Fatalf("recent events: %v (%v), want positions %d-%d", positions(got), err, head-4, head-2)
	}
	if got, err := fl.ReadFrom(ctx, head, 10); err != nil || len(got) != 0 {
		t.Fatalf("after the head: %v (%v), want nothing", positions(got), err)
	}
	if n := src.reads.Load(); n != reads {
		t.Fatalf("%d reads reached the store for events the follower holds", n-reads)
	}
	got, err = fl.ReadFrom(ctx, start-1, 100)
	if err != nil || !slices.EqualFunc(got, want[start-1:], sameEvent) {
		t.Fatalf("older events: %v (%v)", positions(got), err)
	}
	if src.reads.Load() == reads {
		t.Fatal("events older than the follower keeps did not come from the store")
	}
}

// A projector fed by the follower (its Source and its Waker) handles every
// event once, in order, and keeps up with new commits.
func TestProjectorFedByTheFollower(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 5 {
		f.create(fmt.Sprint("early ", i)) // before the follower: read from the store
	}
	fl := startFollower(t, f, f.store, projections.FollowerConfig{MinInterval: time.Millisecond})
	r, err := projections.NewRunner(f.pool, fl, fl, testkit.Logger(), fastRunner)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "fed-by-follower"}
	start(t, r, rec)
	for i := range 20 {
		f.create(fmt.Sprint("late ", i))
	}
	head := f.head()
	testkit.Until(t, 10*time.Second, "the projector to reach the head", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.handled) > 0 && rec.handled[len(rec.handled)-1] == head
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, p := range rec.handled {
		if p != domain.Position(i+1) {
			t.Fatalf("handled %v: position %d at %d", rec.handled, p, i)
		}
	}
}

func sameEvent(a, b domain.StoredEvent) bool {
	return a.Position == b.Position && a.EventID == b.EventID && a.ChainHash == b.ChainHash
}

func positions(events []domain.StoredEvent) []domain.Position {
	out := make([]domain.Position, len(events))
	for i, e := range events {
		out[i] = e.Position
	}
	return out
}
