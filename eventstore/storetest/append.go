package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

func appendAndReadStream(t *testing.T, s Store) {
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
	if head, err := s.HeadPosition(ctx); err != nil || head != got[1].Position {
		t.Fatalf("head = %d, %v; want %d", head, err, got[1].Position)
	}
}

func expectedVersionConflict(t *testing.T, s Store) {
	ctx := context.Background()
	id := create(t, s, "A")
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
func concurrentAppendsOneWins(t *testing.T, s Store) {
	ctx := context.Background()
	id := create(t, s, "A")
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
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
		})
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

func idempotentAppend(t *testing.T, s Store) {
	ctx := context.Background()
	idem := &eventstore.Idempotency{Scope: "admin:k1:retry-1", RequestHash: []byte("h1")}
	results := make([]eventstore.Result, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			id := domain.NewTenantID() // every retry would pick a new id
			results[i], errs[i] = s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
				Events: []domain.Event{created(id, "A")}, Idempotency: idem})
		})
	}
	wg.Wait()
	fresh, first := 0, ""
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !r.Duplicate {
			fresh++
			first = r.StreamID
		}
	}
	if fresh != 1 {
		t.Fatalf("%d appends were not duplicates", fresh)
	}
	for _, r := range results {
		if r.StreamID != first || r.Version != 1 {
			t.Fatalf("duplicate answered %+v, want stream %s", r, first)
		}
	}
	if n := len(all(t, s)); n != 1 {
		t.Fatalf("events stored = %d, want 1", n)
	}
	// The same key for another request is refused.
	id := domain.NewTenantID()
	_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "B")},
		Idempotency: &eventstore.Idempotency{Scope: idem.Scope, RequestHash: []byte("other")}})
	if !errors.Is(err, eventstore.ErrIdempotencyMismatch) {
		t.Fatalf("reuse with another request: %v", err)
	}
}

// Appends that commit together (a group commit shares one transaction) mix
// successes, expected-version conflicts and duplicate idempotency keys: each
// gets its own answer, none fails or delays another, and the feed holds
// exactly the successful ones, gap-free, with every stream gap-free.
func mixedConcurrentAppends(t *testing.T, s Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	existing := create(t, s, "existing")
	const rounds, per = 20, 6
	var okCount, conflictCount, dupCount atomic.Int32
	var wg sync.WaitGroup
	for r := range rounds {
		key := &eventstore.Idempotency{Scope: fmt.Sprint("mixed-", r), RequestHash: []byte("h")}
		for i := range per {
			wg.Go(func() {
				var a eventstore.Append
				switch i % 3 {
				case 0: // a new stream: always succeeds
					id := domain.NewTenantID()
					a = eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "new")}}
				case 1: // a stale version on an existing stream: always conflicts
					a = eventstore.Append{StreamID: existing.StreamID(), TenantID: existing, ExpectedVersion: 1000,
						Events: []domain.Event{domain.TenantSuspended{}}}
				default: // the round's idempotency key: one of two succeeds, the other is a duplicate
					id := domain.NewTenantID()
					a = eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "keyed")}, Idempotency: key}
				}
				res, err := s.Append(ctx, a)
				var c *eventstore.ConflictError
				switch {
				case errors.As(err, &c):
					conflictCount.Add(1)
				case err != nil:
					t.Error(err)
				case res.Duplicate:
					dupCount.Add(1)
				default:
					okCount.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if want := int32(rounds * per / 3); conflictCount.Load() != want || dupCount.Load() != want/2 || okCount.Load() != want+want/2 {
		t.Fatalf("ok %d, conflicts %d, duplicates %d; want %d, %d, %d",
			okCount.Load(), conflictCount.Load(), dupCount.Load(), want+want/2, want, want/2)
	}
	events := all(t, s)
	if len(events) != int(okCount.Load())+1 {
		t.Fatalf("%d events stored, want %d", len(events), okCount.Load()+1)
	}
	for i, e := range events {
		if e.Position != domain.Position(i+1) || e.Version != 1 {
			t.Fatalf("event %d at position %d, version %d", i, e.Position, e.Version)
		}
	}
}
