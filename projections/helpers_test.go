package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// fastRunner is a runner config that keeps tests quick.
var fastRunner = projections.RunnerConfig{
	BatchSize: 50, PollInterval: 200 * time.Millisecond, LockRetryInterval: 150 * time.Millisecond,
	HeartbeatInterval: 150 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
}

// fixture is a fresh database with the event store, the inline tenants read
// model and a running notifier.
type fixture struct {
	t        testing.TB
	pool     *pgxpool.Pool
	store    *eventstore.Store
	repo     *eventstore.Repository
	tenants  *projections.Tenants
	notifier *eventstore.Notifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pool := testenv.NewPool(t)
	tenants := projections.NewTenants(pool)
	store, err := eventstore.New(pool, tenants, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, pool: pool, store: store, repo: eventstore.NewRepository(store, tenants), tenants: tenants,
		notifier: eventstore.NewNotifier(pool, testkit.Logger())}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.notifier.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *fixture) runner(cfg projections.RunnerConfig) *projections.Runner {
	f.t.Helper()
	r, err := projections.NewRunner(f.pool, f.store, f.notifier, testkit.Logger(), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// exec runs one command and fails the test on error.
func (f *fixture) exec(id domain.TenantID, decide func(*domain.Tenant) error) domain.State {
	f.t.Helper()
	out, err := f.repo.Execute(context.Background(), id, testWrite, decide)
	if err != nil {
		f.t.Fatalf("command on %s: %v", id, err)
	}
	return out.State
}

func (f *fixture) create(name string) domain.TenantID {
	f.t.Helper()
	id := domain.NewTenantID()
	f.exec(id, func(t *domain.Tenant) error {
		return t.Create(id, domain.CreateTenant{Name: name, Settings: domain.Settings{RateLimit: &domain.RateLimit{PerSecond: 10, Burst: 20}}})
	})
	return id
}

func (f *fixture) head() domain.Position {
	f.t.Helper()
	h, err := f.store.HeadPosition(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func secret(s string) domain.SecretRef {
	return domain.SecretRef{Ciphertext: "ciphertext-" + s, Hint: domain.SecretHint(s)}
}

// start runs the projector until the returned stop is called (or the test ends).
func start(t testing.TB, r *projections.Runner, p projections.Projector) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx, p); err != nil {
			t.Errorf("run %s: %v", p.Name(), err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// status returns the named projector's status, or a zero one.
func status(t testing.TB, r *projections.Runner, name string) projections.ProjectorStatus {
	t.Helper()
	all, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	return projections.ProjectorStatus{}
}

// recorder is a projector that remembers what it handled.
type recorder struct {
	name string
	// fail, when set, may refuse a batch (checked under the lock).
	fail  func(batch []domain.StoredEvent) error
	delay time.Duration // per batch, to slow a replay down

	mu      sync.Mutex
	handled []domain.Position // every event of every successful batch, in order
	calls   int
	resets  int
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Handle(ctx context.Context, events []domain.StoredEvent) error {
	r.mu.Lock()
	delay := r.delay
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if err := r.fail(events); err != nil {
			return err
		}
	}
	for _, e := range events {
		r.handled = append(r.handled, e.Position)
	}
	return nil
}

func (r *recorder) Reset(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
	return nil
}

func (r *recorder) positions() []domain.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]domain.Position(nil), r.handled...)
}

func (r *recorder) last() domain.Position {
	p := r.positions()
	if len(p) == 0 {
		return 0
	}
	return p[len(p)-1]
}

// contiguous checks that ps is exactly from, from+1, ..., to.
func contiguous(ps []domain.Position, from, to domain.Position) error {
	if want := int(to - from + 1); len(ps) != want {
		return fmt.Errorf("got %d positions, want %d (%d..%d)", len(ps), want, from, to)
	}
	for i, p := range ps {
		if p != from+domain.Position(i) {
			return fmt.Errorf("position #%d is %d, want %d", i, p, from+domain.Position(i))
		}
	}
	return nil
}

var errInjected = errors.New("injected failure")

// testWrite is the command qualifiers of the tests: an admin acting.
var testWrite = domain.Write{Metadata: domain.Metadata{Actor: "admin:test"}}
