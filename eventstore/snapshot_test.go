package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testenv"
	"tenant-service/projections"
)

// Snapshots only shorten replays: the state at every version and at times
// between events equals a plain fold of the events.
func TestSnapshotsNeverChangeAnAnswer(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := eventstore.New(pool, projections.NewTenants(pool), eventstore.Config{SnapshotEvery: 7,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	repo := eventstore.NewRepository(s, projections.NewTenants(pool))
	ctx := context.Background()
	id := domain.NewTenantID()
	if _, err := repo.Execute(ctx, id, domain.Write{}, func(t *domain.Tenant) error {
		return t.Create(id, domain.CreateTenant{Name: "Snap"})
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		_, err := repo.Execute(ctx, id, domain.Write{}, func(t *domain.Tenant) error {
			switch i % 3 {
			case 0:
				name := fmt.Sprintf("Snap %d", i)
				return t.Update(domain.UpdateTenant{Name: &name})
			case 1:
				return t.LinkWABA(domain.WABALinked{WABAID: "w", PhoneNumberID: fmt.Sprintf("p%d", i)})
			default:
				return t.Suspend("")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 2 {
			if _, err := repo.Execute(ctx, id, domain.Write{}, func(t *domain.Tenant) error { return t.Reactivate("") }); err != nil {
				t.Fatal(err)
			}
		}
	}
	var snaps int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM es_snapshots`).Scan(&snaps); err != nil || snaps < 5 {
		t.Fatalf("snapshots written: %d (%v)", snaps, err)
	}
	events, err := s.ReadStream(ctx, id.StreamID(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	fold := domain.State{}
	for _, se := range events {
		e, _ := se.Decode()
		fold.Apply(e, se.OccurredAt)
		want, _ := json.Marshal(fold)
		for _, q := range []struct {
			upTo domain.Version
			asOf time.Time
		}{{se.Version, time.Time{}}, {0, se.OccurredAt}, {0, se.OccurredAt.Add(500 * time.Millisecond)}} {
			tn, err := repo.LoadAt(ctx, id, q.upTo, q.asOf)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(tn.State())
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("version %d (%+v):\n got %s\nwant %s", se.Version, q, got, want)
			}
		}
	}
}
