package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/client"
	"tenant-service/client/internal/servicetest"
	"tenant-service/client/internal/tcpproxy"
)

func TestMain(m *testing.M) { servicetest.Main(m) }

// newClient starts a client of the service; change edits its config first.
// The client logs into the test's log and is closed at cleanup.
func newClient(t testing.TB, svc *servicetest.Service, change ...func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{
		BaseURL:  svc.URL,
		APIKey:   servicetest.ServiceKey,
		AMQPURL:  svc.AMQPURL,
		Exchange: svc.Exchange,
		Logger:   slog.New(slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, f := range change {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(ctx, cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testLog writes log lines into the test's log until the test ends.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// brokerProxy returns a TCP proxy in front of the test broker and the AMQP
// URL that goes through it.
func brokerProxy(t testing.TB, svc *servicetest.Service) (*tcpproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(svc.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	target, err := servicetest.HostPort(svc.AMQPURL, "5672")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tcpproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	return p, u.String()
}

// eventually calls check until it returns nil, failing the test with its
// last error after within.
func eventually(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitApplied waits until the client has applied every event the service
// stored so far, so that no late message drops what a test just cached.
func waitApplied(t testing.TB, c *client.Client, svc *servicetest.Service) {
	t.Helper()
	head := svc.Head()
	eventually(t, within, func() error {
		if p := c.Stats().Position; p < head {
			return fmt.Errorf("client applied position %d, the service's head is %d", p, head)
		}
		return nil
	})
}

func bg() context.Context { return context.Background() }

// lookup is one of the client's three lookups.
type lookup func(context.Context, string) (client.Context, error)

// resolvesTo checks that the lookup answers the tenant (with the name, when
// not empty).
func resolvesTo(look lookup, id, tenantID, name string) func() error {
	return func() error {
		tc, err := look(bg(), id)
		switch {
		case err != nil:
			return fmt.Errorf("lookup %q: %w", id, err)
		case tc.TenantID != tenantID:
			return fmt.Errorf("lookup %q answered tenant %s, want %s", id, tc.TenantID, tenantID)
		case name != "" && tc.Name != name:
			return fmt.Errorf("lookup %q answered name %q, want %q", id, tc.Name, name)
		}
		return nil
	}
}

// notFound checks that the lookup answers ErrNotFound.
func notFound(look lookup, id string) func() error {
	return func() error {
		tc, err := look(bg(), id)
		if !errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("lookup %q = %+v, %v; want ErrNotFound", id, tc, err)
		}
		return nil
	}
}

var _ io.Writer = (*testLog)(nil)

// gate is an HTTP reverse proxy in front of the real service that can refuse
// (503) the event feed or the resolve routes, to hold the client in one of
// its states.
type gate struct {
	URL                  string
	blockFeed, blockRead atomic.Bool
}

func newGate(t testing.TB, svc *servicetest.Service) *gate {
	t.Helper()
	target, err := url.Parse(svc.URL)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (g.blockFeed.Load() && r.URL.Path == "/api/events") ||
			(g.blockRead.Load() && strings.HasPrefix(r.URL.Path, "/api/resolve/")) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":503,"code":"test-gate","title":"Service Unavailable"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}
