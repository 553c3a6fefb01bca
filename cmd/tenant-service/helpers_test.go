package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tenant-service/handlers"
	"tenant-service/internal/openapitest"
	"tenant-service/internal/testenv"
)

const (
	adminKey   = "admin-key-0123456789abcdef"
	serviceKey = "service-key-0123456789abcdef"
	auditorKey = "auditor-key-0123456789abcdef"
)

// testApp is the whole service wired as main wires it, on a fresh database,
// behind an httptest server.
type testApp struct {
	t   testing.TB
	app *App
	srv *httptest.Server
	env map[string]string
}

// testEnv returns the environment a test app runs with; tests may change it
// before startApp.
func testEnv(t testing.TB) map[string]string {
	env := map[string]string{
		"APP_ENV":          "development",
		"DATABASE_URL":     testenv.NewDatabase(t),
		"REDIS_URL":        testenv.RedisURL(t),
		"AMQP_URL":         testenv.AMQPURL(t),
		"REDIS_KEY_PREFIX": testenv.RedisPrefix(t, "t"),
		"API_KEYS":         "admin:" + adminKey + ",service:" + serviceKey + ",auditor:" + auditorKey,
		"DEV_STATE_DIR":    t.TempDir(),
	}
	// An exchange of the test's own, deleted at the end.
	useExchange(t, env)
	return env
}

func startApp(t testing.TB, env map[string]string) *testApp {
	t.Helper()
	return startAppWithLogs(t, env, io.Discard)
}

// startAppWithLogs is startApp writing the app's JSON logs, debug level
// included, to logs (which must be safe for concurrent writes).
func startAppWithLogs(t testing.TB, env map[string]string, logs io.Writer) *testApp {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logOpts *slog.HandlerOptions
	if logs != io.Discard {
		logOpts = &slog.HandlerOptions{Level: slog.LevelDebug}
	}
	log := slog.New(slog.NewJSONHandler(logs, logOpts))
	a, err := Open(ctx, cfg, log, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = a.RunBackground(ctx); close(done) }()
	srv := httptest.NewServer(a.Handler())
	// Every exchange of the tests through srv.Client() is checked against
	// the OpenAPI document (see validatingTransport).
	srv.Client().Transport = validatingTransport(t, srv.URL, srv.Client().Transport)
	t.Cleanup(func() {
		a.server.CloseStreams() // as Serve's shutdown does: open streams would hold up Close
		srv.Close()
		cancel()
		<-done
		a.Close()
	})
	return &testApp{t: t, app: a, srv: srv, env: env}
}

// validatingTransport wraps base, the transport of a client of the test app
// at serverURL, so that every request the server accepts and every answer
// is checked against the OpenAPI document; a mismatch fails t, naming the
// method, path, status and what does not match (the console's files, not
// API, are not checked). Use it for any client a test builds against the app.
func validatingTransport(t testing.TB, serverURL string, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	return openapitest.Transport(t, handlers.OpenAPIDocument(), serverURL, base, handlers.ConsolePath)
}

// validatingProxy starts a reverse proxy to the app whose exchanges are
// checked like those of a.srv.Client(), for clients the test cannot give a
// transport (curl, other processes), and returns its URL.
func (a *testApp) validatingProxy() string {
	a.t.Helper()
	target, err := url.Parse(a.srv.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: a.srv.Client().Transport,
	})
	a.t.Cleanup(proxy.Close)
	return proxy.URL
}

func newTestApp(t testing.TB) *testApp { return startApp(t, testEnv(t)) }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request with the key as bearer; body is sent as JSON when it is
// not empty. Extra headers come as "Name: value" strings.
func (a *testApp) do(method, path, key, body string, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// createTenant creates a tenant and returns its id.
func (a *testApp) createTenant(name string) string {
	a.t.Helper()
	r := a.do("POST", "/api/tenants", adminKey, `{"name":`+quote(name)+`}`)
	if r.status != 201 {
		a.t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	return r.json(a.t)["tenantId"].(string)
}

func quote(s string) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(s)
	return strings.TrimSpace(b.String())
}

// expectProblem checks the status, the problem content type and, when field
// is not empty, that the problem names that field.
func expectProblem(t testing.TB, r response, status int, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type = %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["type"] == "" || p["title"] == "" || p["requestId"] == "" {
		t.Fatalf("problem body incomplete: %s", r.body)
	}
	if field != "" {
		found := false
		errs, _ := p["errors"].([]any)
		for _, e := range errs {
			if e.(map[string]any)["field"] == field {
				found = true
			}
		}
		if !found {
			t.Fatalf("problem does not name field %q: %s", field, r.body)
		}
	}
	return p
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// nodeWith returns the path of node for a test that runs a Node script of
// dir, and fails the test (it never skips) when node or one of the npm
// packages the script needs is missing, saying how to install it.
func nodeWith(t testing.TB, what, dir string, packages ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s needs node (apt-get install -y nodejs)", what)
	}
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p)); err != nil {
			t.Fatalf("%s needs the npm package %s: make node-deps (npm ci --prefix %s)", what, p, strings.TrimPrefix(filepath.Clean(dir), "../../"))
		}
	}
	return node
}
