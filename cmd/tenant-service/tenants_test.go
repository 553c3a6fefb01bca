package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/internal/testkit"
)

func TestTenantLifecycle(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := a.do("POST", "/api/tenants", adminKey, `{"name":"Acme","externalRef":"crm-42","settings":{"rateLimit":{"perSecond":5,"burst":10}}}`,
		"X-Correlation-ID: corr-1", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tenant := r.json(t)
	id := tenant["tenantId"].(string)
	if r.header.Get("Location") != "/api/tenants/"+id || r.header.Get("ETag") != `"1"` {
		t.Fatalf("headers: %v", r.header)
	}
	if tenant["status"] != "active" || tenant["version"] != float64(1) || tenant["externalRef"] != "crm-42" {
		t.Fatalf("created: %s", r.body)
	}

	r = a.do("GET", "/api/tenants/"+id, auditorKey, "")
	if r.status != 200 || r.json(t)["name"] != "Acme" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	r = a.do("PATCH", "/api/tenants/"+id, adminKey, `{"name":"Acme Ltd"}`, `If-Match: "1"`)
	if r.status != 200 || r.json(t)["name"] != "Acme Ltd" || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("PATCH", "/api/tenants/"+id, adminKey, `{"name":"Stale"}`, `If-Match: "1"`), 412, "")
	r = a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, `{"reason":"unpaid"}`)
	if r.status != 200 || r.json(t)["status"] != "suspended" {
		t.Fatalf("suspend: %d %s", r.status, r.body)
	}
	r = a.do("POST", "/api/tenants/"+id+"/reactivate", adminKey, "")
	if r.status != 200 || r.json(t)["status"] != "active" {
		t.Fatalf("reactivate: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/api/tenants", adminKey, "")
	if r.status != 200 || !strings.Contains(string(r.body), id) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	if r.status != 200 || r.json(t)["status"] != "deleted" {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// A deleted tenant still answers, leaves the default list, refuses writes.
	r = a.do("GET", "/api/tenants/"+id, adminKey, "")
	if r.status != 200 || r.json(t)["status"] != "deleted" {
		t.Fatalf("get deleted: %d %s", r.status, r.body)
	}
	if r = a.do("GET", "/api/tenants", adminKey, ""); strings.Contains(string(r.body), id) {
		t.Fatalf("deleted tenant listed: %s", r.body)
	}
	if r = a.do("GET", "/api/tenants?status=deleted", adminKey, ""); !strings.Contains(string(r.body), id) {
		t.Fatalf("status=deleted does not list it: %s", r.body)
	}
	for _, w := range []struct{ method, path, body string }{
		{"PATCH", "", `{"name":"x"}`}, {"POST", "/suspend", ""}, {"POST", "/reactivate", ""}, {"DELETE", "", ""},
	} {
		expectProblem(t, a.do(w.method, "/api/tenants/"+id+w.path, adminKey, w.body), 422, "")
	}

	// Every change is in the tenant's stream, with metadata, and in the global feed in order.
	r = a.do("GET", "/api/tenants/"+id+"/events", auditorKey, "")
	events := r.json(t)["items"].([]any)
	want := []string{"TenantCreated", "TenantUpdated", "TenantSuspended", "TenantReactivated", "TenantDeleted"}
	if len(events) != len(want) {
		t.Fatalf("events: %s", r.body)
	}
	for i, e := range events {
		ev := e.(map[string]any)
		meta := ev["metadata"].(map[string]any)
		if ev["type"] != want[i] || ev["version"] != float64(i+1) || meta["actor"] == "" || meta["requestId"] == "" {
			t.Fatalf("event %d: %v", i, ev)
		}
		if i == 0 && (meta["correlationId"] != "corr-1" || !strings.HasPrefix(meta["traceParent"].(string), "00-4bf9")) {
			t.Fatalf("metadata of the create: %v", meta)
		}
	}
	r = a.do("GET", "/api/events?limit=2", auditorKey, "")
	page := r.json(t)
	if len(page["items"].([]any)) != 2 || page["nextCursor"] == "" {
		t.Fatalf("global page 1: %s", r.body)
	}
	r = a.do("GET", "/api/events?cursor="+page["nextCursor"].(string), auditorKey, "")
	rest := r.json(t)["items"].([]any)
	if len(rest) != 3 || rest[0].(map[string]any)["position"] != float64(3) {
		t.Fatalf("global page 2: %s", r.body)
	}
	r = a.do("GET", "/api/events?type=TenantSuspended,TenantDeleted", auditorKey, "")
	if items := r.json(t)["items"].([]any); len(items) != 2 {
		t.Fatalf("type filter: %s", r.body)
	}
	// Time travel: version 2 is the renamed, still active tenant.
	r = a.do("GET", "/api/tenants/"+id+"?version=2", auditorKey, "")
	if v := r.json(t); v["name"] != "Acme Ltd" || v["status"] != "active" || v["version"] != float64(2) {
		t.Fatalf("version=2: %s", r.body)
	}
}

// 50 concurrent updates with the same If-Match: exactly one wins, the others
// get 412 (or 409), and the stream stays gap-free.
func TestConcurrentUpdatesOneWins(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Race")
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = a.do("PATCH", "/api/tenants/"+id, adminKey, fmt.Sprintf(`{"name":"writer %d"}`, i), `If-Match: "1"`).status
		}()
	}
	wg.Wait()
	ok, lost := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 412, 409:
			lost++
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if ok != 1 || lost != 49 {
		t.Fatalf("ok = %d, lost = %d", ok, lost)
	}
	r := a.do("GET", "/api/tenants/"+id+"/events", adminKey, "")
	items := r.json(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("stream: %s", r.body)
	}
	for i, e := range items {
		if e.(map[string]any)["version"] != float64(i+1) {
			t.Fatalf("gap in stream: %s", r.body)
		}
	}
}

// Commands without If-Match that race are re-decided, never lost.
func TestConcurrentSuspendReactivateNoLostUpdate(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Flip")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do("PATCH", "/api/tenants/"+id, adminKey, fmt.Sprintf(`{"externalRef":"ref-%d"}`, i))
			if r.status != 200 && r.status != 409 {
				t.Errorf("status %d: %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	r := a.do("GET", "/api/tenants/"+id, adminKey, "")
	version := r.json(t)["version"].(float64)
	events := a.do("GET", "/api/tenants/"+id+"/events?limit=500", adminKey, "").json(t)["items"].([]any)
	if int(version) != len(events) {
		t.Fatalf("read model version %v, stream has %d events", version, len(events))
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	body := `{"name":"Once"}`
	first := a.do("POST", "/api/tenants", adminKey, body, "Idempotency-Key: create-once-1")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do("POST", "/api/tenants", adminKey, body, "Idempotency-Key: create-once-1")
			if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry: %d %v %s", r.status, r.header, r.body)
				return
			}
			ids[i] = r.json(t)["tenantId"].(string)
		}()
	}
	wg.Wait()
	want := first.json(t)["tenantId"]
	for _, id := range ids {
		if id != want {
			t.Fatalf("retry answered tenant %s, want %s", id, want)
		}
	}
	r := a.do("GET", "/api/tenants?limit=100", adminKey, "")
	if n := len(r.json(t)["items"].([]any)); n != 1 {
		t.Fatalf("%d tenants exist", n)
	}
	// The same key with another body is refused and creates nothing.
	expectProblem(t, a.do("POST", "/api/tenants", adminKey, `{"name":"Other"}`, "Idempotency-Key: create-once-1"), 422, "")
	// Concurrent first attempts with a fresh key also make one tenant.
	var wg2 sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if r := a.do("POST", "/api/tenants", adminKey, `{"name":"Twice"}`, "Idempotency-Key: create-race"); r.status != 201 {
				t.Errorf("race: %d %s", r.status, r.body)
			}
		}()
	}
	wg2.Wait()
	r = a.do("GET", "/api/tenants?limit=100", adminKey, "")
	if n := len(r.json(t)["items"].([]any)); n != 2 {
		t.Fatalf("%d tenants exist after the race, want 2", n)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	seen := map[string]bool{}
	for i := 0; i < 7; i++ {
		seen[a.createTenant(fmt.Sprintf("T%d", i))] = false
	}
	cursor, pages := "", 0
	for {
		r := a.do("GET", "/api/tenants?limit=3&cursor="+cursor, adminKey, "")
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		page := r.json(t)
		for _, it := range page["items"].([]any) {
			id := it.(map[string]any)["tenantId"].(string)
			if seen[id] {
				t.Fatalf("tenant %s listed twice", id)
			}
			seen[id] = true
		}
		pages++
		next, _ := page["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for id, ok := range seen {
		if !ok {
			t.Fatalf("tenant %s never listed", id)
		}
	}
	if pages != 3 {
		t.Fatalf("pages = %d, want 3", pages)
	}
}

func TestAuthAndRoles(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Roles")
	expectProblem(t, a.do("GET", "/api/tenants", "", ""), 401, "")
	expectProblem(t, a.do("GET", "/api/tenants", "not-a-key-at-all-xxxx", ""), 401, "")
	r := a.do("GET", "/api/tenants", "", "", "Authorization: Basic YWRtaW46YWRtaW4=")
	expectProblem(t, r, 401, "")
	expectProblem(t, a.do("POST", "/api/tenants", auditorKey, `{"name":"x"}`), 403, "")
	expectProblem(t, a.do("POST", "/api/tenants", serviceKey, `{"name":"x"}`), 403, "")
	expectProblem(t, a.do("GET", "/api/tenants/"+id, serviceKey, ""), 403, "")
	expectProblem(t, a.do("DELETE", "/api/tenants/"+id, auditorKey, ""), 403, "")
	if r := a.do("GET", "/api/events", auditorKey, ""); r.status != 200 {
		t.Fatalf("auditor reads the feed: %d", r.status)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		// /readyz may say 503 while the relay is still connecting; it must never ask for a key.
		testkit.Eventually(t, 15*time.Second, func() error {
			if r := a.do("GET", p, "", ""); r.status != http.StatusOK {
				return errorf("%s without a key: %d %s", p, r.status, r.body)
			}
			return nil
		})
	}
	// The event records the acting key's identity, not the key.
	events := a.do("GET", "/api/tenants/"+id+"/events", adminKey, "").json(t)["items"].([]any)
	actor := events[0].(map[string]any)["metadata"].(map[string]any)["actor"].(string)
	if !strings.HasPrefix(actor, "admin:") || strings.Contains(actor, adminKey) {
		t.Fatalf("actor = %q", actor)
	}
}
