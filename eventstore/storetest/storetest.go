// Package storetest is the contract every event store implementation must
// pass: appends with an expected version (one winner among racing
// writers), idempotent appends, gap-free positions that a reader following
// the feed never skips, streams and filtered reads. Run it from the
// implementation's tests with a factory of fresh, empty stores:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return newStore(t) })
//	}
//
// It also holds the tampering an attacker with table access could do, for
// the tests of verify elsewhere.
package storetest

import (
	"context"
	"testing"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// Store is what the contract tests of an event store. Implementations must
// be safe for concurrent use.
type Store interface {
	Append(ctx context.Context, a eventstore.Append) (eventstore.Result, error)
	ReadStream(ctx context.Context, streamID string, after domain.Version, limit int) ([]domain.StoredEvent, error)
	ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error)
	ReadAll(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) ([]domain.StoredEvent, error)
	HeadPosition(ctx context.Context) (domain.Position, error)
}

// Run runs every contract test, each in parallel on a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Store)
	}{
		{"AppendAndReadStream", appendAndReadStream},
		{"ExpectedVersionConflict", expectedVersionConflict},
		{"ConcurrentAppendsOneWins", concurrentAppendsOneWins},
		{"IdempotentAppend", idempotentAppend},
		{"MixedConcurrentAppends", mixedConcurrentAppends},
		{"PositionReaderNeverSkips", positionReaderNeverSkips},
		{"ReadAllFilters", readAllFilters},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newStore(t))
		})
	}
}

func created(id domain.TenantID, name string) domain.Event {
	return domain.TenantCreated{TenantID: id, Name: name}
}

// create appends a new stream with one TenantCreated and returns its id.
func create(t *testing.T, s Store, name string) domain.TenantID {
	t.Helper()
	id := domain.NewTenantID()
	if _, err := s.Append(context.Background(), eventstore.Append{StreamID: id.StreamID(), TenantID: id,
		Events: []domain.Event{created(id, name)}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// all reads the whole feed.
func all(t *testing.T, s Store) []domain.StoredEvent {
	t.Helper()
	var out []domain.StoredEvent
	for after := domain.Position(0); ; {
		evs, err := s.ReadFrom(context.Background(), after, 500)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
		if len(evs) < 500 {
			return out
		}
		after = evs[len(evs)-1].Position
	}
}
