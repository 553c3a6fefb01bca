package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// progressLog records progress callbacks.
type progressLog struct {
	mu    sync.Mutex
	calls [][2]int64
}

func (p *progressLog) report(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, [2]int64{done, total})
}

func (p *progressLog) last() [2]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		return [2]int64{-1, -1}
	}
	return p.calls[len(p.calls)-1]
}

func TestRebuildIsDoneByTheRunningLeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const name = "test.rebuild.leader"
	head := addTenants(f, 30)
	leader := &recorder{name: name}
	r := f.runner(fastRunner)
	start(t, r, leader)
	testkit.Until(t, 20*time.Second, "catch-up", func() bool { return status(t, r, name).Position == head })

	cli := &recorder{name: name} // the operator command's instance: must stay idle
	var progress progressLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.runner(fastRunner).Rebuild(ctx, cli, progress.report); err != nil {
		t.Fatal(err)
	}
	if got := progress.last(); got != [2]int64{int64(head), int64(head)} {
		t.Fatalf("last progress = %v, want done = total = %d", got, head)
	}
	if len(cli.positions()) != 0 || cli.resets != 0 {
		t.Fatal("the command handled events although a leader was running")
	}
	leader.mu.Lock()
	resets, handled := leader.resets, append([]domain.Position(nil), leader.handled...)
	leader.mu.Unlock()
	if resets != 1 {
		t.Fatalf("leader reset %d times, want 1", resets)
	}
	// Before the reset 1..head, after it 1..head again.
	if err := contiguous(handled[len(handled)-int(head):], 1, head); err != nil {
		t.Fatalf("replay after reset: %v", err)
	}
	s := status(t, r, name)
	if s.Generation != 1 || s.RebuildRequested || s.Position != head {
		t.Fatalf("status after rebuild = %+v", s)
	}
}

func TestRebuildRunsInProcessWithoutLeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const name = "test.rebuild.cli"
	head := addTenants(f, 30)
	r := f.runner(fastRunner)
	first := &recorder{name: name}
	stop := start(t, r, first)
	testkit.Until(t, 20*time.Second, "catch-up", func() bool { return status(t, r, name).Position == head })
	stop()

	cli := &recorder{name: name}
	var progress progressLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Rebuild(ctx, cli, progress.report); err != nil {
		t.Fatal(err)
	}
	if cli.resets != 1 {
		t.Fatalf("resets = %d, want 1", cli.resets)
	}
	if err := contiguous(cli.positions(), 1, head); err != nil {
		t.Fatal(err)
	}
	if got := progress.last(); got != [2]int64{int64(head), int64(head)} {
		t.Fatalf("last progress = %v, want %d of %d", got, head, head)
	}
	if s := status(t, r, name); s.Generation != 1 || s.Position != head || s.Leader {
		t.Fatalf("status after rebuild = %+v (the command must release the lock)", s)
	}
}

func TestRebuildTakesOverWhenTheLeaderStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const name = "test.rebuild.takeover"
	head := addTenants(f, 20)
	cfg := fastRunner
	cfg.BatchSize = 2
	r := f.runner(cfg)
	leader := &recorder{name: name}
	stop := start(t, r, leader)
	testkit.Until(t, 20*time.Second, "catch-up", func() bool { return status(t, r, name).Position == head })
	leader.mu.Lock()
	leader.delay = 100 * time.Millisecond // the replay is slow ...
	leader.mu.Unlock()

	cli := &recorder{name: name}
	done := make(chan error, 1)
	go func() { done <- f.runner(cfg).Rebuild(context.Background(), cli, nil) }()
	testkit.Until(t, 20*time.Second, "the leader replaying", func() bool {
		s := status(t, r, name)
		return s.Generation == 1 && s.Position > 0
	})
	stop() // ... and the leader goes away in the middle
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("rebuild did not finish after the leader stopped")
	}
	if s := status(t, r, name); s.Position != head || s.Generation != 1 {
		t.Fatalf("status = %+v, want generation 1 at %d", s, head)
	}
	if len(cli.positions()) == 0 || cli.last() != head {
		t.Fatalf("the command handled %v, want the rest of the replay up to %d", cli.positions(), head)
	}
}

func TestRequestRebuildRefusesTheInlineModel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.runner(fastRunner).RequestRebuild(context.Background(), projections.TenantsName); err == nil {
		t.Fatal("rebuild request for the inline tenants model accepted")
	}
}
