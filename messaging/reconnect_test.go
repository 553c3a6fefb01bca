package messaging

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testkit"
)

// newProxy puts a cuttable TCP proxy in front of the test broker.
func newProxy(t *testing.T, amqpURL string) *tcpproxy.Proxy {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tcpproxy.New(u.Host)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// handleUntilOK retries the batch, as the projector runner would, until the
// relay reports it confirmed (bounded).
func handleUntilOK(t *testing.T, r *Relay, events []domain.StoredEvent) {
	t.Helper()
	testkit.Eventually(t, 45*time.Second, func() error { return handle(r, events) })
}

// handleBounded runs Handle and fails the test if it does not return within
// the bound: Handle must never hang on a broken broker.
func handleBounded(t *testing.T, r *Relay, events []domain.StoredEvent, bound time.Duration) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- r.Handle(context.Background(), events) }()
	select {
	case err := <-res:
		return err
	case <-time.After(bound):
		t.Fatalf("Handle did not return within %s", bound)
		return nil
	}
}

func TestRelayConnectionCutAndRestored(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	proxy := newProxy(t, tp.url)
	r := tp.relay(t, viaProxy(t, tp.url, proxy.Addr()), RelayConfig{InFlight: 32, ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents) // straight to the broker, not through the proxy

	first := interleaved(t, 20, 5, 0)
	mustHandle(t, r, first)

	// Broker gone: Handle fails fast, readiness says so.
	proxy.Cut()
	second := interleaved(t, 20, 5, 100)
	if err := handleBounded(t, r, second, 15*time.Second); err == nil {
		t.Fatal("Handle succeeded while the broker was unreachable")
	}
	testkit.Until(t, 15*time.Second, "Ready to report the cut connection", func() bool { return r.Ready() != nil })

	// Broker back: the relay reconnects and the retried batch goes through.
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	handleUntilOK(t, r, second)
	third := interleaved(t, 20, 5, 200)
	mustHandle(t, r, third)

	all := append(append(append([]domain.StoredEvent{}, first...), second...), third...)
	checkTenantOrder(t, tap.takeAll(t, all), all)
	if proxy.Accepted() < 2 {
		t.Errorf("proxy accepted %d connections, want a reconnection", proxy.Accepted())
	}
}

func TestRelayConnectionCutMidBatch(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	proxy := newProxy(t, tp.url)
	r := tp.relay(t, viaProxy(t, tp.url, proxy.Addr()), RelayConfig{InFlight: 16, ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)

	events := interleaved(t, 40, 100, 0)
	res := make(chan error, 1)
	go func() { res <- handle(r, events) }()
	early := tap.take(t, 50) // the batch is flowing: cut it off
	proxy.Cut()
	select {
	case err := <-res:
		// nil only if the broker confirmed all before the cut.
		t.Logf("Handle during the cut returned %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Handle did not return within 20s of the cut")
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	handleUntilOK(t, r, events)
	checkTenantOrder(t, tap.takeAll(t, events, early...), events)
}

func TestRelayBrokerHangs(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	proxy := newProxy(t, tp.url)
	r := tp.relay(t, viaProxy(t, tp.url, proxy.Addr()), RelayConfig{
		PublishTimeout: 500 * time.Millisecond, Heartbeat: time.Minute, DialTimeout: time.Second,
		ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond,
	})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)

	proxy.Pause() // connection open, nothing answers: no confirm ever comes
	events := interleaved(t, 30, 4, 0)
	err := handleBounded(t, r, events, 15*time.Second)
	if err == nil {
		t.Fatal("Handle succeeded while the broker did not answer")
	}
	t.Logf("Handle while the broker hung: %v", err)
	proxy.Resume()
	handleUntilOK(t, r, events)
	checkTenantOrder(t, tap.takeAll(t, events), events)
}

func TestRelayUnblocksPublishersStuckWriting(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	proxy := newProxy(t, tp.url)
	r := tp.relay(t, viaProxy(t, tp.url, proxy.Addr()), RelayConfig{
		PublishTimeout: 500 * time.Millisecond, Heartbeat: time.Minute, DialTimeout: time.Second,
		ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond,
	})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)

	// 64 tenants × 512 KiB: far more than the socket buffers hold, so with
	// the broker not reading, publishers block inside their writes.
	events := interleaved(t, 64, 1, 0)
	big := []byte(`{"name":"` + strings.Repeat("x", 512<<10) + `"}`)
	for i := range events {
		events[i].Type, events[i].SchemaVersion, events[i].Data = domain.EventTenantUpdated, 1, big
	}
	proxy.Pause()
	if err := handleBounded(t, r, events, 20*time.Second); err == nil {
		t.Fatal("Handle succeeded while the broker did not read")
	}
	proxy.Resume()
	handleUntilOK(t, r, events)
	checkTenantOrder(t, tap.takeAll(t, events), events)
}
