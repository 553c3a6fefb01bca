package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"tenant-service/internal/tcpproxy"
)

// With PostgreSQL unreachable, requests that need it answer 503 promptly,
// change nothing, and the service recovers when it is back.
func TestPostgresDownIs503(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	u, err := url.Parse(env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := tcpproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	u.Host = proxy.Addr()
	env["DATABASE_URL"] = u.String()
	a := startApp(t, env)
	id := a.createTenant("Outage")

	proxy.Cut()
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/tenants", `{"name":"During outage"}`},
		{"GET", "/api/tenants/" + id, ""},
		{"PATCH", "/api/tenants/" + id, `{"name":"x"}`},
		{"GET", "/api/events", ""},
	} {
		start := time.Now()
		r := a.do(req.method, req.path, adminKey, req.body)
		expectProblem(t, r, 503, "")
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%s %s took %s", req.method, req.path, time.Since(start))
		}
	}
	// /readyz names the dependency and its state, never its address, user or database.
	r := a.do("GET", "/readyz", "", "")
	if r.status != 503 || !strings.Contains(string(r.body), `"postgres":{"status":"down"}`) {
		t.Fatalf("readyz during outage: %d %s", r.status, r.body)
	}
	db := strings.TrimPrefix(u.Path, "/")
	for _, secret := range []string{db, u.Hostname(), proxy.Addr(), u.User.Username() + "@", "user=", "host=", "dial", "database"} {
		if strings.Contains(string(r.body), secret) {
			t.Fatalf("readyz shows %q: %s", secret, r.body)
		}
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if r := a.do("GET", "/api/tenants/"+id, adminKey, ""); r.status != 200 {
			return errorf("after restore: %d", r.status)
		}
		return nil
	})
	r = a.do("GET", "/api/tenants?limit=10", adminKey, "")
	if n := len(r.json(t)["items"].([]any)); n != 1 {
		t.Fatalf("%d tenants after the outage, want 1 (nothing half-written)", n)
	}
}
