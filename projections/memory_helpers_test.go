package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// memoryFixture is a Memory in front of a Resolver (Redis, then
// PostgreSQL), with its follower on the fixture's store.
type memoryFixture struct {
	*redisFixture
	feed     *flakyFeed // the follower's source
	follower *projections.Follower
	res      *projections.Resolver
	mem      *projections.Memory
}

func newMemoryFixture(t testing.TB, cfg projections.MemoryConfig) *memoryFixture {
	t.Helper()
	f := newRedisFixture(t)
	feed := &flakyFeed{Source: f.store}
	follower, err := projections.NewFollower(feed, f.notifier, testkit.Logger(),
		projections.FollowerConfig{PollInterval: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res := projections.NewResolver(f.rdb, f.prefix, f.tenants, testkit.Logger())
	mem, err := projections.NewMemory(res, follower, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &memoryFixture{redisFixture: f, feed: feed, follower: follower, res: res, mem: mem}
}

// flakyFeed is the event store as the follower's source, whose reads fail
// while fail is set (PostgreSQL cut off from this replica).
type flakyFeed struct {
	projections.Source
	fail atomic.Bool
}

func (f *flakyFeed) ReadFrom(ctx context.Context, after domain.Position, limit int) ([]domain.StoredEvent, error) {
	if f.fail.Load() {
		return nil, errInjected
	}
	return f.Source.ReadFrom(ctx, after, limit)
}

// follow runs the follower until the returned stop is called (or the test
// ends), once it has found the head.
func (f *memoryFixture) follow() (stop func()) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.follower.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	f.t.Cleanup(stop)
	select {
	case <-f.follower.Ready():
	case <-time.After(20 * time.Second):
		f.t.Fatal("the follower did not find the head")
	}
	return stop
}

// write runs one command and returns the tenant afterwards and the position
// of its last event.
func (f *memoryFixture) write(id domain.TenantID, decide func(*domain.Tenant) error) (domain.State, domain.Position) {
	f.t.Helper()
	out, err := f.repo.Execute(context.Background(), id, testWrite, decide)
	if err != nil {
		f.t.Fatalf("command on %s: %v", id, err)
	}
	if len(out.Events) == 0 {
		f.t.Fatalf("command on %s recorded nothing", id)
	}
	return out.State, out.Events[len(out.Events)-1].Position
}

// applied waits until the follower has handed over every event up to p.
func (f *memoryFixture) applied(p domain.Position) {
	f.t.Helper()
	testkit.Until(f.t, 20*time.Second, fmt.Sprintf("the follower at %d", p), func() bool { return f.follower.Position() >= p })
}

// lookup is one resolve and what it must answer: the tenant at a version
// at least this one, or not found (tenant "").
type lookup struct {
	by      string // phone, integration or tenant
	id      string
	tenant  domain.TenantID
	version domain.Version
}

func (l lookup) on(m *projections.Memory, min domain.Position) (projections.Context, error) {
	ctx := context.Background()
	switch l.by {
	case "phone":
		return decoded(m.ByPhoneNumber(ctx, l.id, min))
	case "integration":
		return decoded(m.ByIntegration(ctx, l.id, min))
	default:
		return decoded(m.ByTenant(ctx, domain.TenantID(l.id), min))
	}
}

// check returns why the answer is not what l wants, or nil.
func (l lookup) check(c projections.Context, err error) error {
	switch {
	case l.tenant == "" && errors.Is(err, domain.ErrTenantNotFound):
		return nil
	case l.tenant == "":
		return fmt.Errorf("%s %s: %s v%d, %v; want not found", l.by, l.id, c.TenantID, c.Version, err)
	case err != nil || c.TenantID != l.tenant || c.Version < l.version:
		return fmt.Errorf("%s %s: %s v%d, %v; want %s v%d", l.by, l.id, c.TenantID, c.Version, err, l.tenant, l.version)
	}
	return nil
}

// expect checks the lookups with minPosition at on eager at once (it may
// not have applied at yet), then, once the follower has applied at, on
// f.mem without a minimum (memory answers with what it kept and the events
// it applied) and with it.
func (f *memoryFixture) expect(eager *projections.Memory, step string, at domain.Position, lookups ...lookup) {
	f.t.Helper()
	for _, l := range lookups {
		if err := l.check(l.on(eager, at)); err != nil {
			f.t.Fatalf("%s, at once with minPosition %d: %v", step, at, err)
		}
	}
	f.applied(at)
	for _, min := range []domain.Position{0, at} {
		for _, l := range lookups {
			if err := l.check(l.on(f.mem, min)); err != nil {
				f.t.Fatalf("%s, applied, minPosition %d: %v", step, min, err)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
