package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// limitTestTimeout is RATE_LIMIT_TIMEOUT in the tests that count refusals:
// on a loaded machine a Redis call can take longer than the 50ms default,
// and a check that times out lets its request through unchecked (by
// design), which would read as a limit not enforced.
const limitTestTimeout = "5s"

// A tenant's own rate limit applies to its token and secret routes: past the
// burst the answer is 429 with Retry-After, and other tenants are unaffected.
func TestTenantRateLimit(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["RATE_LIMIT_TIMEOUT"] = limitTestTimeout
	a := startApp(t, env)
	r := a.do("POST", "/api/tenants", adminKey, `{"name":"Limited","settings":{"rateLimit":{"perSecond":1,"burst":2}}}`)
	id := r.json(t)["tenantId"].(string)
	other := a.createTenant("Unlimited")
	for _, tid := range []string{id, other} {
		a.do("PUT", "/api/tenants/"+tid+"/genesys/credentials", adminKey, credentialsBody("c", "limit-secret-NNNN1234", "mypurecloud.com"))
	}
	for i := 0; i < 2; i++ {
		if r := a.do("GET", "/api/tenants/"+id+"/genesys/credentials/secret", serviceKey, ""); r.status != 200 {
			t.Fatalf("within burst: %d %s", r.status, r.body)
		}
	}
	r = a.do("GET", "/api/tenants/"+id+"/genesys/credentials/secret", serviceKey, "")
	expectProblem(t, r, 429, "")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	for i := 0; i < 5; i++ {
		if r := a.do("GET", "/api/tenants/"+other+"/genesys/credentials/secret", serviceKey, ""); r.status != 200 {
			t.Fatalf("another tenant limited: %d", r.status)
		}
	}
}

// Each API key has its own limit (API_KEY_RATE_LIMIT).
func TestAPIKeyRateLimit(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["API_KEY_RATE_LIMIT"] = "2:10"
	env["RATE_LIMIT_TIMEOUT"] = limitTestTimeout
	a := startApp(t, env)
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		r := a.do("GET", "/api/tenants?limit=1", adminKey, "")
		switch r.status {
		case 200:
		case 429:
			limited = r.header.Get("Retry-After") != ""
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if !limited {
		t.Fatal("40 rapid requests with one admin key limited to 2/s (burst 10) were never limited")
	}
	// The auditor key has its own bucket.
	if r := a.do("GET", "/api/tenants?limit=1", auditorKey, ""); r.status != 200 {
		t.Fatalf("another key limited: %d", r.status)
	}
}

// RATE_LIMIT_TIMEOUT bounds each check's Redis call: 50ms unless set, and a
// value that is not a positive duration is refused by name.
func TestRateLimitTimeoutSetting(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 50 * time.Millisecond, "250ms": 250 * time.Millisecond, "2s": 2 * time.Second} {
		cfg, err := loadConfig(func(k string) string { return map[string]string{"RATE_LIMIT_TIMEOUT": value}[k] })
		if err != nil || cfg.RateLimitTimeout != want {
			t.Errorf("RATE_LIMIT_TIMEOUT=%q: %v, %v; want %v", value, cfg.RateLimitTimeout, err, want)
		}
	}
	for _, bad := range []string{"fast", "0", "-1s", "50"} {
		_, err := loadConfig(func(k string) string { return map[string]string{"RATE_LIMIT_TIMEOUT": bad}[k] })
		if err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_TIMEOUT") {
			t.Errorf("RATE_LIMIT_TIMEOUT=%q: %v", bad, err)
		}
	}
}
