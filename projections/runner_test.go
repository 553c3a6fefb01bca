package projections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// addTenants creates n tenants, each with a second event, and returns the head.
func addTenants(f *fixture, n int) domain.Position {
	f.t.Helper()
	for i := range n {
		id := f.create(fmt.Sprintf("tenant %d", i))
		f.exec(id, func(t *domain.Tenant) error { return t.Suspend("test") })
	}
	return f.head()
}

func TestRunnerCatchesUpAndFollows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := addTenants(f, 60) // 120 events: several batches of 50
	cfg := fastRunner
	r := f.runner(cfg)
	rec := &recorder{name: "test.follow"}
	start(t, r, rec)

	testkit.Until(t, 20*time.Second, "catch-up", func() bool { return rec.last() >= first })
	second := addTenants(f, 5)
	testkit.Until(t, 20*time.Second, "following new events", func() bool { return rec.last() >= second })
	if err := contiguous(rec.positions(), 1, second); err != nil {
		t.Fatal(err)
	}
	testkit.Until(t, 10*time.Second, "checkpoint persisted", func() bool {
		s := status(t, r, rec.name)
		return s.Position == second && s.Head == second && s.Lag == 0 && s.Leader
	})
	if s := status(t, r, rec.name); s.LastError != "" || s.UpdatedAt.IsZero() {
		t.Fatalf("status = %+v, want no error and an update time", s)
	}
}

func TestRunnerResumesFromCheckpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := addTenants(f, 10)
	r := f.runner(fastRunner)
	first := &recorder{name: "test.resume"}
	stop := start(t, r, first)
	testkit.Until(t, 20*time.Second, "first run", func() bool { return status(t, r, first.name).Position == head })
	stop()

	more := addTenants(f, 10)
	second := &recorder{name: "test.resume"}
	start(t, f.runner(fastRunner), second)
	testkit.Until(t, 20*time.Second, "second run", func() bool { return second.last() >= more })
	if err := contiguous(second.positions(), head+1, more); err != nil {
		t.Fatalf("second run did not resume after checkpoint %d: %v", head, err)
	}
	if err := contiguous(first.positions(), 1, head); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerRetriesFailedBatchWithoutSkipping(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := addTenants(f, 40) // 80 events
	poison := head / 2
	failures := 0
	rec := &recorder{name: "test.retry"}
	rec.fail = func(batch []domain.StoredEvent) error {
		for _, e := range batch {
			if e.Position == poison && failures < 6 {
				failures++
				return fmt.Errorf("%w at %d", errInjected, poison)
			}
		}
		return nil
	}
	r := f.runner(fastRunner)
	start(t, r, rec)

	testkit.Until(t, 20*time.Second, "the failure recorded", func() bool {
		return status(t, r, rec.name).LastError != ""
	})
	testkit.Until(t, 20*time.Second, "all events handled", func() bool { return rec.last() >= head })
	if err := contiguous(rec.positions(), 1, head); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	calls, fails := rec.calls, failures
	rec.mu.Unlock()
	if fails != 6 || calls < 6+2 {
		t.Fatalf("failures = %d, calls = %d; want 6 failures and retries", fails, calls)
	}
	testkit.Until(t, 10*time.Second, "error cleared", func() bool {
		s := status(t, r, rec.name)
		return s.LastError == "" && s.Position == head
	})
}

func TestRunnerConfigValidate(t *testing.T) {
	t.Parallel()
	bad := projections.RunnerConfig{BatchSize: -1, PollInterval: -time.Second, MinBackoff: time.Minute, MaxBackoff: time.Second}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"batch size", "poll interval", "min backoff must not exceed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := (projections.RunnerConfig{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if _, err := projections.NewRunner(nil, nil, nil, nil, projections.RunnerConfig{}); err == nil {
		t.Fatal("runner without pool accepted")
	}
}

func TestRunnerStopsWithContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.runner(fastRunner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, &recorder{name: "test.stop"}) }()
	testkit.Until(t, 10*time.Second, "leadership", func() bool { return status(t, r, "test.stop").Leader })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after ctx ended", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	testkit.Until(t, 10*time.Second, "lock released", func() bool { return !status(t, r, "test.stop").Leader })
}
