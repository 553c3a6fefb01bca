package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
)

const (
	testAdmin   = "admin-key-0123456789abcdef"
	testService = "service-key-0123456789abcdef"
	testAuditor = "auditor-key-0123456789abcdef"
	testTenant  = "5f0c4a52-1d4e-4b6a-9c0f-2e5d8b1a6c33"
)

// newTestServer is the real router over a fake application: no PostgreSQL,
// Redis or RabbitMQ.
func newTestServer(t *testing.T, app App) *Server {
	t.Helper()
	s, err := NewServer(app, Config{Logger: slog.New(slog.DiscardHandler),
		APIKeys: []APIKey{{RoleAdmin, testAdmin}, {RoleService, testService}, {RoleAuditor, testAuditor}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call is one valid request to a route, and the use case it reaches.
type call struct {
	method, path, body string
	key                string
	useCase            string
	status             int // on success
}

// calls is one valid request per route of the table (the health and
// metrics routes reach no use case).
var calls = []call{
	{"POST", "/api/tenants", `{"name":"Acme"}`, testAdmin, "Create", 201},
	{"GET", "/api/tenants", "", testAuditor, "Tenants", 200},
	{"GET", "/api/tenants/" + testTenant, "", testAuditor, "Tenant", 200},
	{"GET", "/api/tenants/" + testTenant + "?version=2", "", testAuditor, "TenantAt", 200},
	{"PATCH", "/api/tenants/" + testTenant, `{"name":"Acme Ltd"}`, testAdmin, "Update", 200},
	{"DELETE", "/api/tenants/" + testTenant, "", testAdmin, "Delete", 200},
	{"POST", "/api/tenants/" + testTenant + "/suspend", `{"reason":"unpaid"}`, testAdmin, "Suspend", 200},
	{"POST", "/api/tenants/" + testTenant + "/reactivate", "", testAdmin, "Reactivate", 200},
	{"GET", "/api/tenants/" + testTenant + "/events", "", testAuditor, "Events", 200},
	{"GET", "/api/events?type=TenantCreated", "", testService, "Feed", 200},
	{"GET", "/api/tenants/" + testTenant + "/verify", "", testAuditor, "VerifyTenant", 200},
	{"GET", "/api/events/verify?afterPosition=10&limit=100", "", testAuditor, "VerifyFeed", 200},
	{"PUT", "/api/tenants/" + testTenant + "/genesys/credentials", `{"clientId":"c","clientSecret":"s","region":"mypurecloud.de"}`, testAdmin, "SetGenesysCredentials", 200},
	{"GET", "/api/tenants/" + testTenant + "/genesys/credentials", "", testAuditor, "Credentials", 200},
	{"GET", "/api/tenants/" + testTenant + "/genesys/credentials/secret", "", testService, "GenesysSecrets", 200},
	{"PUT", "/api/tenants/" + testTenant + "/genesys/integration", `{"integrationId":"i-1"}`, testAdmin, "LinkGenesysIntegration", 200},
	{"GET", "/api/tenants/" + testTenant + "/genesys/token", "", testService, "GenesysToken", 200},
	{"POST", "/api/tenants/" + testTenant + "/whatsapp", `{"wabaId":"1","phoneNumberId":"2"}`, testAdmin, "LinkWhatsApp", 201},
	{"DELETE", "/api/tenants/" + testTenant + "/whatsapp/2", "", testAdmin, "UnlinkWhatsApp", 200},
	{"GET", "/api/tenants/" + testTenant + "/whatsapp/token?minPosition=5", "", testService, "WhatsAppToken", 200},
	{"POST", "/api/whatsapp/signup", `{"tenantId":"` + testTenant + `","code":"c","wabaId":"1"}`, testAdmin, "CompleteSignup", 200},
	{"GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=v&hub.challenge=1", "", "", "VerifyWebhook", 200},
	{"POST", "/api/whatsapp/webhook", `{"object":"whatsapp_business_account"}`, "", "RecordWebhook", 200},
	{"GET", "/api/resolve/whatsapp/1122334455", "", testService, "ResolvePhone", 200},
	{"GET", "/api/resolve/genesys/i-1", "", testService, "ResolveIntegration", 200},
	{"GET", "/api/resolve/tenant/" + testTenant + "?minPosition=9", "", testService, "ResolveTenant", 200},
}

func (c call) do(t *testing.T, s *Server, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.path, body)
	if c.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		r.Header.Set("Authorization", "Bearer "+c.key)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		r.Header.Set(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// checkProblem checks an RFC 9457 problem body of the status.
func checkProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem is not JSON: %s", w.Body)
	}
	if p["status"] != float64(status) || p["title"] != http.StatusText(status) || p["code"] != code ||
		p["type"] != problemTypeBase+code || p["requestId"] == "" || p["instance"] == "" {
		t.Fatalf("problem %v, want status %d code %s", p, status, code)
	}
	return p
}

// The table covers every route the router has.
func TestEveryRouteHasACall(t *testing.T) {
	s := newTestServer(t, &fakeApp{})
	covered := map[string]bool{}
	for _, c := range calls {
		w := c.do(t, s)
		covered[c.method+" "+routeOf(t, s, c)] = true
		if w.Code != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, w.Code, c.status, w.Body)
		}
	}
	for _, r := range s.Routes() {
		switch r.Path {
		case "/healthz", "/readyz", "/metrics":
			continue
		case "/asyncapi.json", "/openapi.json": // documents, no use case: asyncapi_test.go, openapi_test.go
			continue
		case "/api/whoami", streamPath: // no use case, or no end: stream_test.go
			continue
		}
		if !covered[r.Method+" "+r.Path] {
			t.Errorf("route %s %s has no call in the table", r.Method, r.Path)
		}
	}
}

// routeOf returns the route pattern the call reaches.
func routeOf(t *testing.T, s *Server, c call) string {
	path, _, _ := strings.Cut(c.path, "?")
	for _, r := range s.Routes() {
		if r.Method == c.method && matches(r.Path, path) {
			return r.Path
		}
	}
	t.Fatalf("no route for %s %s", c.method, c.path)
	return ""
}

func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], ":") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// Every route maps every kind of domain error to its status in one table,
// with a problem body naming the code; an error of no kind is a 500 that
// shows nothing of it.
func TestEveryRouteMapsEveryErrorKind(t *testing.T) {
	for _, c := range calls {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			for kind, status := range statusOf {
				app := &fakeApp{err: fmt.Errorf("use case: %w", &domain.Error{Kind: kind, Code: "some-code", Detail: "it went wrong"})}
				w := c.do(t, newTestServer(t, app))
				p := checkProblem(t, w, status, "some-code")
				if p["detail"] != "it went wrong" {
					t.Fatalf("detail %v", p["detail"])
				}
				if len(app.calls) != 1 || app.calls[0] != c.useCase {
					t.Fatalf("use cases called: %v, want %s", app.calls, c.useCase)
				}
			}
			w := c.do(t, newTestServer(t, &fakeApp{err: errors.New("pq: the disk caught fire at 10.0.0.7")}))
			checkProblem(t, w, 500, "internal-error")
			if strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Fatalf("a 500 shows the cause: %s", w.Body)
			}
		})
	}
}

// A refusal with a retry time says when, as Retry-After in whole seconds.
func TestRetryAfter(t *testing.T) {
	app := &fakeApp{err: &domain.Error{Kind: domain.KindRateLimited, Code: "rate-limited", Detail: "slow down", RetryAfter: 1500 * time.Millisecond}}
	w := calls[0].do(t, newTestServer(t, app))
	checkProblem(t, w, 429, "rate-limited")
	if got := w.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2", got)
	}
}

// Roles: no key 401, a bad key 401, a role a route does not allow 403; the
// use case is not reached.
func TestRolesAreCheckedBeforeTheUseCase(t *testing.T) {
	for _, c := range calls {
		if c.key == "" {
			continue
		}
		for key, status := range map[string]int{"": 401, "not-a-key-at-all-1234": 401} {
			app := &fakeApp{}
			c2 := c
			c2.key = key
			w := c2.do(t, newTestServer(t, app))
			if w.Code != status || len(app.calls) != 0 {
				t.Fatalf("%s %s with key %q: %d, calls %v", c.method, c.path, key, w.Code, app.calls)
			}
		}
		for _, key := range []string{testService, testAuditor} {
			if key == c.key {
				continue
			}
			app := &fakeApp{}
			c2 := c
			c2.key = key
			w := c2.do(t, newTestServer(t, app))
			allowed := (c.key == testService && key == testService) || (c.key == testAuditor && key == testAuditor) ||
				(strings.HasPrefix(c.path, "/api/events") && key == testAuditor)
			if !allowed && (w.Code != 403 || len(app.calls) != 0) {
				t.Fatalf("%s %s with the %s key: %d, calls %v", c.method, c.path, key, w.Code, app.calls)
			}
		}
	}
}

// What the handlers take from a request: the Idempotency-Key scoped to the
// caller and bound to the request, If-Match, the request's metadata.
func TestCommandsCarryWhatTheRequestSays(t *testing.T) {
	app := &fakeApp{}
	s := newTestServer(t, app)
	c := call{"PATCH", "/api/tenants/" + testTenant, `{"name":"B"}`, testAdmin, "Update", 200}
	w := c.do(t, s, `If-Match: "3"`, "Idempotency-Key: k-1", "X-Correlation-ID: corr-9",
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if w.Code != 200 || w.Header().Get("ETag") != `"3"` {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	wr := app.write
	if wr.IfMatch == nil || *wr.IfMatch != 3 || wr.Idempotency == nil || !strings.HasSuffix(wr.Idempotency.Scope, "|k-1") ||
		len(wr.Idempotency.RequestHash) != 32 || wr.Metadata.CorrelationID != "corr-9" || wr.Metadata.ActorRole != "admin" ||
		wr.Metadata.TraceParent == "" || wr.Metadata.RequestID == "" || !strings.HasPrefix(wr.Metadata.Actor, "admin:") {
		t.Fatalf("write = %+v", wr)
	}
	// The same key with another body is another request hash.
	first := string(wr.Idempotency.RequestHash)
	c.body = `{"name":"C"}`
	c.do(t, s, "Idempotency-Key: k-1")
	if string(app.write.Idempotency.RequestHash) == first {
		t.Fatal("two different requests share a request hash")
	}
}

// Bad parameters are refused before the use case, naming the field.
func TestBadParametersNeverReachTheUseCase(t *testing.T) {
	for _, bad := range []call{
		{"GET", "/api/tenants/" + testTenant + "?minPosition=x", "", testAuditor, "", 400},
		{"GET", "/api/resolve/tenant/" + testTenant + "?minPosition=-1", "", testService, "", 400},
		{"GET", "/api/tenants?limit=0", "", testAuditor, "", 400},
		{"GET", "/api/tenants?q=a%00b", "", testAuditor, "", 400},
		{"GET", "/api/events?type=Nope", "", testAuditor, "", 400},
		{"GET", "/api/events?actor=%ff", "", testAuditor, "", 400},
		{"GET", "/api/events/verify?limit=0", "", testAuditor, "", 400},
		{"GET", "/api/events/verify?limit=100001", "", testAuditor, "", 400},
		{"GET", "/api/events/verify?afterPosition=-1", "", testAuditor, "", 400},
		{"GET", "/api/events/stream?afterPosition=x", "", testAuditor, "", 400},
		{"GET", "/api/tenants/not-a-uuid/verify", "", testAuditor, "", 404},
		{"PATCH", "/api/tenants/" + testTenant, `{"name":1}`, testAdmin, "", 400},
		{"PATCH", "/api/tenants/" + testTenant, `{"name":"a"}`, testAdmin, "", 400}, // with a bad If-Match below
		{"POST", "/api/tenants", `{"name":"a"}`, testAdmin, "", 415},
		{"POST", "/api/tenants", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, testAdmin, "", 413},
		{"GET", "/api/tenants/not-a-uuid", "", testAuditor, "", 404},
		{"PUT", "/api/tenants", `{}`, testAdmin, "", 405},
		{"GET", "/api/nothing", "", testAdmin, "", 404},
	} {
		app := &fakeApp{}
		var headers []string
		switch {
		case bad.status == 415:
			headers = []string{"Content-Type: text/plain"}
		case bad.body == `{"name":"a"}`:
			headers = []string{"If-Match: abc"}
		}
		w := bad.do(t, newTestServer(t, app), headers...)
		if w.Code != bad.status || len(app.calls) != 0 {
			t.Fatalf("%s %s: %d (calls %v), want %d: %s", bad.method, bad.path, w.Code, app.calls, bad.status, w.Body)
		}
	}
}
