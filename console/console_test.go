package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tenant-service/console"
)

func serve(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

func TestConsoleFilesAndHeaders(t *testing.T) {
	h, err := console.New(console.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, "/admin/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script type="module" src="app.js">`) {
		t.Fatalf("index: %d %s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "facebook") {
		t.Errorf("CSP allows Meta without Embedded Signup configured: %q", csp)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", w.Header())
	}
	for _, f := range []string{"app.js", "api.js", "live.js", "dom.js", "tenants.js", "tenant.js", "history.js", "events.js", "signup.js"} {
		w := serve(t, h, "/admin/"+f)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: %d %q", f, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := serve(t, h, "/admin/config.js"); !strings.Contains(w.Body.String(), `"signup":false`) {
		t.Errorf("config.js without signup: %s", w.Body)
	}
	if w := serve(t, h, "/admin/nothing.html"); w.Code != 404 {
		t.Errorf("a missing file: %d", w.Code)
	}
}

func TestConsoleWithEmbeddedSignup(t *testing.T) {
	h, err := console.New(console.Config{MetaAppID: "1234", SignupConfigID: "5678"})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, "/admin/config.js")
	body := w.Body.String()
	for _, want := range []string{`"signup":true`, `"metaAppId":"1234"`, `"signupConfigId":"5678"`, `"graphVersion":"v25.0"`} {
		if !strings.Contains(body, want) {
			t.Errorf("config.js %s lacks %s", body, want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' https://connect.facebook.net;") ||
		!strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP with signup: %q", csp)
	}
}
