package eventstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/eventstore/storetest"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

func newStore(t testing.TB) (*eventstore.Store, *pgxpool.Pool) {
	return newStoreWith(t, eventstore.Config{})
}

// newStoreWith is a store over a fresh database, configured by cfg.
func newStoreWith(t testing.TB, cfg eventstore.Config) (*eventstore.Store, *pgxpool.Pool) {
	pool := testenv.NewPool(t)
	s, err := eventstore.New(pool, projections.NewTenants(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

func created(id domain.TenantID, name string) domain.Event {
	return domain.TenantCreated{TenantID: id, Name: name}
}

// The PostgreSQL store passes the event store contract, with one group
// committing at a time (the default) and with several at once.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, _ := newStore(t)
		return s
	})
}

func TestContractSeveralGroupsAtOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, _ := newStoreWith(t, eventstore.Config{GroupsInFlight: 3})
		return s
	})
}

func TestNotifierWakesOnAppend(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := eventstore.NewNotifier(pool, testkit.Logger())
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
