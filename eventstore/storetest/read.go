package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// Concurrent appenders on many streams while a reader follows the feed: the
// reader must see every position exactly once, in order, never a late event
// below one it has already passed.
func positionReaderNeverSkips(t *testing.T, s Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, perWriter = 8, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range perWriter {
				id := domain.NewTenantID()
				if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
					Events: []domain.Event{created(id, "A"), domain.TenantSuspended{}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last domain.Position
	seen, finished := 0, false
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
	if head, _ := s.HeadPosition(ctx); head != last {
		t.Fatalf("head %d, reader at %d", head, last)
	}
}

func readAllFilters(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := domain.NewTenantID(), domain.NewTenantID()
	for _, id := range []domain.TenantID{a, b} {
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
			Events: []domain.Event{created(id, "A"), domain.TenantSuspended{}}, Metadata: domain.Metadata{Actor: "admin:" + string(id)[len(id)-8:]}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ReadAll(ctx, 0, 10, eventstore.Filter{TenantID: b, Types: []string{domain.EventTenantSuspended}})
	if err != nil || len(got) != 1 || got[0].TenantID != b || got[0].Type != domain.EventTenantSuspended {
		t.Fatalf("filtered = %+v, %v", got, err)
	}
	got, _ = s.ReadAll(ctx, 0, 10, eventstore.Filter{Actor: "admin:" + string(a)[len(a)-8:]})
	if len(got) != 2 || got[0].TenantID != a {
		t.Fatalf("by actor = %+v", got)
	}
}
