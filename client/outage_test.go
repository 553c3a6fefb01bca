package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tenant-service/client"
	"tenant-service/client/internal/servicetest"
	"tenant-service/client/internal/tcpproxy"
)

// check is one expectation about a lookup.
type check struct {
	what string
	run  func() error
}

func checkAll(checks []check) error {
	var errs []error
	for _, c := range checks {
		if err := c.run(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.what, err))
		}
	}
	return errors.Join(errs...)
}

func waitState(t *testing.T, c *client.Client, want client.State, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		if s := c.State(); s != want {
			return fmt.Errorf("state %s, want %s", s, want)
		}
		return nil
	})
}

// TestBrokerOutageIsCaughtUpAfterReconnect cuts the client off the broker
// while tenants change (the messages published meanwhile are lost with its
// exclusive queue), then restores the broker: within 10 s every change must
// show, and the entries that survived must answer from memory again.
func TestBrokerOutageIsCaughtUpAfterReconnect(t *testing.T) {
	svc := servicetest.Start(t)
	proxy, amqpURL := brokerProxy(t, svc)
	c := newClient(t, svc, func(cfg *client.Config) { cfg.AMQPURL = amqpURL })

	renamed, deleted, linker, integrated, from, to, untouched :=
		svc.CreateTenant("renamed"), svc.CreateTenant("deleted"), svc.CreateTenant("linker"),
		svc.CreateTenant("integrated"), svc.CreateTenant("from"), svc.CreateTenant("to"), svc.CreateTenant("untouched")
	const movedPhone, deletedPhone, newPhone, newIntegration = "5511911110001", "5511911110002", "5511911110003", "integration-new-1"
	svc.LinkNumber(from.TenantID, "waba-from", movedPhone)
	svc.LinkNumber(deleted.TenantID, "waba-del", deletedPhone)

	before := []check{
		{"renamed", resolvesTo(c.ByTenant, renamed.TenantID, renamed.TenantID, "renamed")},
		{"deleted", resolvesTo(c.ByTenant, deleted.TenantID, deleted.TenantID, "deleted")},
		{"deleted's number", resolvesTo(c.ByPhoneNumber, deletedPhone, deleted.TenantID, "")},
		{"moved number", resolvesTo(c.ByPhoneNumber, movedPhone, from.TenantID, "")},
		{"unknown number", notFound(c.ByPhoneNumber, newPhone)},
		{"unknown integration", notFound(c.ByIntegration, newIntegration)},
		{"untouched", resolvesTo(c.ByTenant, untouched.TenantID, untouched.TenantID, "untouched")},
	}
	waitApplied(t, c, svc)
	eventually(t, within, func() error { return checkAll(before) })

	proxy.Cut()
	waitState(t, c, client.StateDegraded, within)
	// Disconnected: what is cached still answers, from memory.
	hits := c.Stats().Hits
	if err := checkAll(before); err != nil {
		t.Fatalf("while disconnected: %v", err)
	}
	if got := c.Stats().Hits - hits; got != uint64(len(before)) {
		t.Fatalf("%d of %d lookups answered from memory while disconnected", got, len(before))
	}

	svc.Rename(renamed.TenantID, "renamed again")
	svc.Delete(deleted.TenantID)
	svc.LinkNumber(linker.TenantID, "waba-new", newPhone)
	svc.SetIntegration(integrated.TenantID, newIntegration)
	svc.UnlinkNumber(from.TenantID, movedPhone)
	svc.LinkNumber(to.TenantID, "waba-to", movedPhone)
	time.Sleep(300 * time.Millisecond) // the relay publishes them to no queue of ours

	restored := time.Now()
	tcpproxy.MustRestore(t, proxy)
	waitState(t, c, client.StateConnected, 10*time.Second)
	resynced := time.Since(restored)

	// One lookup each, no retry: the resync must have dropped every entry
	// a change touched, and only those.
	after := []check{
		{"renamed", resolvesTo(c.ByTenant, renamed.TenantID, renamed.TenantID, "renamed again")},
		{"deleted", notFound(c.ByTenant, deleted.TenantID)},
		{"deleted's number", notFound(c.ByPhoneNumber, deletedPhone)},
		{"moved number", resolvesTo(c.ByPhoneNumber, movedPhone, to.TenantID, "to")},
		{"newly linked number", resolvesTo(c.ByPhoneNumber, newPhone, linker.TenantID, "linker")},
		{"newly set integration", resolvesTo(c.ByIntegration, newIntegration, integrated.TenantID, "integrated")},
		{"untouched", resolvesTo(c.ByTenant, untouched.TenantID, untouched.TenantID, "untouched")},
	}
	if err := checkAll(after); err != nil {
		t.Fatalf("%s after the broker came back: %v", resynced, err)
	}
	s := c.Stats()
	if s.Reconnects < 1 || s.Resyncs < 1 {
		t.Fatalf("stats = %+v", s)
	}
	// The untouched entry survived the resync: a hit, not a re-read.
	hits, misses := s.Hits, s.Misses
	if err := resolvesTo(c.ByTenant, untouched.TenantID, untouched.TenantID, "untouched")(); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Hits != hits+1 || s.Misses != misses {
		t.Fatalf("the untouched entry was not served from memory after the resync")
	}
	t.Logf("fresh again %s after the broker came back (connected, every missed event applied)", resynced.Round(time.Millisecond))

	// And messages flow again.
	svc.Rename(untouched.TenantID, "touched")
	eventually(t, within, resolvesTo(c.ByTenant, untouched.TenantID, untouched.TenantID, "touched"))
}

// TestEntriesCachedBeforeALossAreReadAgainUntilTheResyncEnds holds the
// client in its resync (the event feed refused): an entry cached before the
// loss is read again rather than served from memory, and when the service
// does not answer either, it answers as the last known good.
func TestEntriesCachedBeforeALossAreReadAgainUntilTheResyncEnds(t *testing.T) {
	svc := servicetest.Start(t)
	proxy, amqpURL := brokerProxy(t, svc)
	g := newGate(t, svc)
	c := newClient(t, svc, func(cfg *client.Config) { cfg.AMQPURL, cfg.BaseURL = amqpURL, g.URL })
	a, b := svc.CreateTenant("a before"), svc.CreateTenant("b before")
	waitApplied(t, c, svc)
	eventually(t, within, resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "a before"))
	eventually(t, within, resolvesTo(c.ByTenant, b.TenantID, b.TenantID, "b before"))

	proxy.Cut()
	waitState(t, c, client.StateDegraded, within)
	svc.Rename(a.TenantID, "a after")
	svc.Rename(b.TenantID, "b after")
	g.blockFeed.Store(true)
	tcpproxy.MustRestore(t, proxy)
	waitState(t, c, client.StateResyncing, within)

	if err := resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "a after")(); err != nil {
		t.Fatalf("stale entry served during the resync: %v", err)
	}
	g.blockRead.Store(true)
	stale := c.Stats().Stale
	if err := resolvesTo(c.ByTenant, b.TenantID, b.TenantID, "b before")(); err != nil {
		t.Fatalf("no last known good answer with the service refusing: %v", err)
	}
	if c.Stats().Stale != stale+1 {
		t.Fatal("the last known good answer was not counted")
	}
	if s := c.State(); s != client.StateResyncing {
		t.Fatalf("state %s, want resyncing while the feed is refused", s)
	}

	g.blockFeed.Store(false)
	g.blockRead.Store(false)
	waitState(t, c, client.StateConnected, 10*time.Second)
	if err := resolvesTo(c.ByTenant, b.TenantID, b.TenantID, "b after")(); err != nil {
		t.Fatal(err)
	}
}

// TestServiceLossKeepsAnsweringFromMemory kills the service: cached ids
// still answer; an id that needs the service fails within the caller's
// deadline with an error that is not ErrNotFound; the service back, lookups
// work again.
func TestServiceLossKeepsAnsweringFromMemory(t *testing.T) {
	svc := servicetest.Start(t)
	c := newClient(t, svc)
	a := svc.CreateTenant("A")
	const phone, unknown, uncached = "5511922220001", "5511922220002", "5511922220003"
	svc.LinkNumber(a.TenantID, "waba-a", phone)
	cached := []check{
		{"tenant", resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "A")},
		{"number", resolvesTo(c.ByPhoneNumber, phone, a.TenantID, "A")},
		{"unknown number", notFound(c.ByPhoneNumber, unknown)},
	}
	waitApplied(t, c, svc)
	eventually(t, within, func() error { return checkAll(cached) })

	svc.Kill()
	if err := checkAll(cached); err != nil {
		t.Fatalf("service down: %v", err)
	}
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(bg(), deadline)
	start := time.Now()
	_, err := c.ByPhoneNumber(ctx, uncached)
	took := time.Since(start)
	cancel()
	if err == nil || errors.Is(err, client.ErrNotFound) || !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("lookup with the service down: %v; want ErrUnavailable, not ErrNotFound", err)
	}
	if took > deadline+2*time.Second {
		t.Fatalf("lookup with the service down took %s, deadline %s", took, deadline)
	}
	eventually(t, within, func() error {
		if c.Stats().ServiceAvailable {
			return errors.New("service still reported available")
		}
		return nil
	})

	svc.Restart()
	eventually(t, within, notFound(c.ByPhoneNumber, uncached))
	if !c.Stats().ServiceAvailable {
		t.Fatal("service not reported available again")
	}
}

// TestAHungServiceFailsWithinTheDeadline: the service accepts the
// connection but never answers (paused proxy).
func TestAHungServiceFailsWithinTheDeadline(t *testing.T) {
	svc := servicetest.Start(t)
	target := strings.TrimPrefix(svc.URL, "http://")
	proxy, err := tcpproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	c := newClient(t, svc, func(cfg *client.Config) { cfg.BaseURL = "http://" + proxy.Addr() })
	a := svc.CreateTenant("A")
	waitApplied(t, c, svc)
	eventually(t, within, resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "A"))

	proxy.Pause()
	defer proxy.Resume()
	if err := resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "A")(); err != nil {
		t.Fatalf("cached lookup with the service hung: %v", err)
	}
	for _, deadline := range []time.Duration{50 * time.Millisecond, 400 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(bg(), deadline)
		start := time.Now()
		_, err := c.ByIntegration(ctx, "never-cached-"+deadline.String())
		took := time.Since(start)
		cancel()
		if !errors.Is(err, client.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lookup with the service hung: %v; want ErrUnavailable and DeadlineExceeded", err)
		}
		if took > deadline+time.Second {
			t.Fatalf("lookup with a %s deadline took %s", deadline, took)
		}
	}
}
