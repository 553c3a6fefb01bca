package eventstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// The bulk read sees one snapshot: the tenant streams' versions and their
// events in position order up to the snapshot's head, across pages, and
// nothing of other streams or of appends after the snapshot.
func TestScanTenantEvents(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	appendN := func(stream string, tenant domain.TenantID, n int) {
		t.Helper()
		evs := []domain.Event{created(tenant, "scan")}
		for i := 1; i < n; i++ {
			name := fmt.Sprint("v", i)
			evs = append(evs, domain.TenantUpdated{Name: &name})
		}
		if _, err := s.Append(ctx, eventstore.Append{StreamID: stream, TenantID: tenant, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := domain.NewTenantID(), domain.NewTenantID()
	appendN(a.StreamID(), a, 6000)
	appendN("other-"+string(a), a, 3) // not a tenant stream
	appendN(b.StreamID(), b, 4500)    // the log passes a page of positions

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	versions, err := s.TenantVersions(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[a] != 6000 || versions[b] != 4500 {
		t.Fatalf("versions = %v, want %s: 6000, %s: 4500", versions, a, b)
	}
	late := domain.NewTenantID()
	appendN(late.StreamID(), late, 1) // after the snapshot: unseen
	var got []domain.StoredEvent
	head, err := s.ScanTenantEvents(ctx, tx, 0, func(e domain.StoredEvent) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if head != 10503 || len(got) != 10500 {
		t.Fatalf("head %d, %d events; want 10503, 10500", head, len(got))
	}
	next := map[domain.TenantID]domain.Version{}
	for i, e := range got {
		if i > 0 && e.Position <= got[i-1].Position {
			t.Fatalf("position %d after %d", e.Position, got[i-1].Position)
		}
		if e.StreamID != e.TenantID.StreamID() || e.Version != next[e.TenantID]+1 || len(e.Data) == 0 || e.OccurredAt.IsZero() {
			t.Fatalf("event %d: %+v, want version %d of %s", i, e, next[e.TenantID]+1, e.TenantID.StreamID())
		}
		if _, err := e.Decode(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		next[e.TenantID] = e.Version
	}
	n := 0
	if _, err := s.ScanTenantEvents(ctx, tx, 6003, func(e domain.StoredEvent) error {
		if n++; e.Position <= 6003 {
			t.Fatalf("position %d read after 6003", e.Position)
		}
		return nil
	}); err != nil || n != 4500 {
		t.Fatalf("read %d events after 6003 (%v), want 4500", n, err)
	}
}

// LockHead returns the head and keeps appends from committing until the
// transaction ends.
func TestLockHeadHoldsAppends(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	id := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, "A")}}); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	head, err := s.LockHead(ctx, tx)
	if err != nil || head != 1 {
		t.Fatalf("head %d (%v), want 1", head, err)
	}
	done := make(chan error, 1)
	go func() {
		other := domain.NewTenantID()
		_, err := s.Append(ctx, eventstore.Append{StreamID: other.StreamID(), TenantID: other, Events: []domain.Event{created(other, "B")}})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("an append committed while the head was locked (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the append did not commit after the head was released")
	}
	if h, err := s.HeadPosition(ctx); err != nil || h != 2 {
		t.Fatalf("head %d (%v), want 2", h, err)
	}
}
