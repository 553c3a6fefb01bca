package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testenv"
	"tenant-service/projections"
)

func newStore(t testing.TB) (*eventstore.Store, *pgxpool.Pool) {
	pool := testenv.NewPool(t)
	s, err := eventstore.New(pool, projections.NewTenants(pool), eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

func created(id domain.TenantID, name string) domain.Event {
	return domain.TenantCreated{TenantID: id, Name: name}
}

func TestAppendAndReadStream(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	id := domain.NewTenantID()
	meta := domain.Metadata{Actor: "admin:test", RequestID: "req-1", CorrelationID: "corr-1"}
	res, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{
		created(id, "Acme"), domain.TenantSuspended{Reason: "unpaid"}}, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || len(res.Events) != 2 {
		t.Fatalf("result = %+v", res)
	}
	got, err := s.ReadStream(ctx, id.StreamID(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 || got[0].Type != domain.EventTenantCreated ||
		got[1].Type != domain.EventTenantSuspended {
		t.Fatalf("stream = %+v", got)
	}
	if got[0].Metadata != meta || got[0].EventID == "" || got[0].Position+1 != got[1].Position {
		t.Fatalf("envelope = %+v", got[0])
	}
	if got[0].Hash != res.Events[0].Hash || got[1].ChainHash != res.Events[1].ChainHash {
		t.Fatalf("hashes differ between append result and read")
	}
	e, err := got[0].Decode()
	if err != nil || e.(domain.TenantCreated).Name != "Acme" {
		t.Fatalf("decode = %v, %v", e, err)
	}
}

func TestAppendExpectedVersionConflict(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	id := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "A")}}); err != nil {
		t.Fatal(err)
	}
	// Creating the same stream again and appending at a stale version both conflict.
	for _, expected := range []domain.Version{0, 2, 5} {
		_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, ExpectedVersion: expected,
			Events: []domain.Event{domain.TenantSuspended{}}})
		var c *eventstore.ConflictError
		if !errors.As(err, &c) || c.Actual != 1 {
			t.Fatalf("expected %d: err = %v", expected, err)
		}
	}
}

// 50 writers race with the same expected version: exactly one wins and the
// stream stays gap-free.
func TestConcurrentAppendsOneWins(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	id := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "A")}}); err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "B"
			_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, ExpectedVersion: 1,
				Events: []domain.Event{domain.TenantUpdated{Name: &name}}})
			var c *eventstore.ConflictError
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &c):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 49 {
		t.Fatalf("wins = %d, conflicts = %d", wins.Load(), conflicts.Load())
	}
	got, _ := s.ReadStream(ctx, id.StreamID(), 0, 0)
	for i, e := range got {
		if e.Version != domain.Version(i+1) {
			t.Fatalf("stream has a gap: %v at %d", e.Version, i)
		}
	}
	if len(got) != 2 {
		t.Fatalf("stream length = %d", len(got))
	}
}

func TestIdempotentAppend(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	idem := &eventstore.Idempotency{Scope: "admin:k1:retry-1", RequestHash: []byte("h1")}
	var firstStream string
	var wg sync.WaitGroup
	results := make([]eventstore.Result, 10)
	errs := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := domain.NewTenantID() // every retry would pick a new id
			results[i], errs[i] = s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
				Events: []domain.Event{created(id, "A")}, Idempotency: idem})
		}()
	}
	wg.Wait()
	fresh := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !r.Duplicate {
			fresh++
			firstStream = r.StreamID
		}
	}
	if fresh != 1 {
		t.Fatalf("%d appends were not duplicates", fresh)
	}
	for _, r := range results {
		if r.StreamID != firstStream || r.Version != 1 {
			t.Fatalf("duplicate answered %+v, want stream %s", r, firstStream)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM es_events`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("events stored = %d (%v)", n, err)
	}
	// The same key for another request is refused.
	id := domain.NewTenantID()
	_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "B")},
		Idempotency: &eventstore.Idempotency{Scope: idem.Scope, RequestHash: []byte("other")}})
	if !errors.Is(err, eventstore.ErrIdempotencyMismatch) {
		t.Fatalf("reuse with another request: %v", err)
	}
}

// Concurrent appenders on many streams while a reader follows the feed: the
// reader must see every position exactly once, in order, never a late event
// below one it has already passed.
func TestPositionReaderNeverSkips(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, perWriter = 8, 40
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id := domain.NewTenantID()
				if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
					Events: []domain.Event{created(id, "A"), domain.TenantSuspended{}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last domain.Position
	seen := 0
	finished := false
	for !finished {
		select {
		case <-done:
			finished = true // one more read below drains the rest
		default:
		}
		evs, err := s.ReadFrom(ctx, last, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Position != last+1 {
				t.Fatalf("reader saw position %d after %d", e.Position, last)
			}
			last = e.Position
			seen++
		}
		if finished && len(evs) == 50 {
			finished = false // keep draining
		}
	}
	if seen != writers*perWriter*2 {
		t.Fatalf("reader saw %d events, want %d", seen, writers*perWriter*2)
	}
	head, _ := s.HeadPosition(ctx)
	if head != last {
		t.Fatalf("head %d, reader at %d", head, last)
	}
}

func TestNotifierWakesOnAppend(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := eventstore.NewNotifier(pool, testLogger())
	go n.Run(ctx)
	ch, stop := n.Subscribe()
	defer stop()
	// Drain the wake-up sent when listening starts.
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up when listening started")
	}
	id := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "A")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("append did not wake the subscriber")
	}
}

func TestReadAllFilters(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	a, b := domain.NewTenantID(), domain.NewTenantID()
	for _, id := range []domain.TenantID{a, b} {
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
			Events: []domain.Event{created(id, "A"), domain.TenantSuspended{}}, Metadata: domain.Metadata{Actor: "admin:" + string(id)[:4]}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ReadAll(ctx, 0, 10, eventstore.Filter{TenantID: b, Types: []string{domain.EventTenantSuspended}})
	if err != nil || len(got) != 1 || got[0].TenantID != b || got[0].Type != domain.EventTenantSuspended {
		t.Fatalf("filtered = %+v, %v", got, err)
	}
	got, _ = s.ReadAll(ctx, 0, 10, eventstore.Filter{Actor: "admin:" + string(a)[:4]})
	if len(got) != 2 || got[0].TenantID != a {
		t.Fatalf("by actor = %+v", got)
	}
}

func TestPurgeIdempotency(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	for i, age := range []string{"10 days", "1 hour"} {
		id := domain.NewTenantID()
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "A")},
			Idempotency: &eventstore.Idempotency{Scope: fmt.Sprint("k", i), RequestHash: []byte("h")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE es_idempotency SET created_at = now() - $2::interval WHERE scope = $1`, fmt.Sprint("k", i), age); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeIdempotency(ctx, 7*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	var left string
	if err := pool.QueryRow(ctx, `SELECT scope FROM es_idempotency`).Scan(&left); err != nil || left != "k1" {
		t.Fatalf("left %q (%v)", left, err)
	}
}
