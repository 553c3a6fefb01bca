package main

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Every bad input of the contract's status list gets its status and a problem
// body naming the field, and changes nothing.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Valid")
	long := strings.Repeat("n", 201)
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string
	}{
		{"malformed json", "POST", "/api/tenants", `{"name":`, nil, 400, "body"},
		{"not an object", "POST", "/api/tenants", `[1,2]`, nil, 400, "body"},
		{"trailing data", "POST", "/api/tenants", `{"name":"a"} {"name":"b"}`, nil, 400, "body"},
		{"unknown field", "POST", "/api/tenants", `{"name":"a","colour":"red"}`, nil, 400, "colour"},
		{"missing name", "POST", "/api/tenants", `{"externalRef":"x"}`, nil, 400, "name"},
		{"blank name", "POST", "/api/tenants", `{"name":"   "}`, nil, 400, "name"},
		{"name too long", "POST", "/api/tenants", `{"name":"` + long + `"}`, nil, 400, "name"},
		{"name wrong type", "POST", "/api/tenants", `{"name":42}`, nil, 400, "name"},
		{"control chars", "POST", "/api/tenants", `{"name":"a\u0000b"}`, nil, 400, "name"},
		{"rate limit zero", "POST", "/api/tenants", `{"name":"a","settings":{"rateLimit":{"perSecond":0,"burst":1}}}`, nil, 400, "settings.rateLimit.perSecond"},
		{"rate limit fraction", "POST", "/api/tenants", `{"name":"a","settings":{"rateLimit":{"perSecond":1.5,"burst":1}}}`, nil, 400, "settings.rateLimit.perSecond"},
		{"settings unknown", "POST", "/api/tenants", `{"name":"a","settings":{"speed":1}}`, nil, 400, "settings.speed"},
		{"empty body", "POST", "/api/tenants", ``, []string{"Content-Type: application/json"}, 400, "body"},
		{"not json", "POST", "/api/tenants", `{"name":"a"}`, []string{"Content-Type: text/plain"}, 415, ""},
		{"too large", "POST", "/api/tenants", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, ""},
		{"bad idempotency key", "POST", "/api/tenants", `{"name":"a"}`, []string{"Idempotency-Key: " + strings.Repeat("k", 300)}, 400, "Idempotency-Key"},
		{"if-match on create", "POST", "/api/tenants", `{"name":"a"}`, []string{`If-Match: "1"`}, 400, "If-Match"},
		{"patch bad if-match", "PATCH", "/api/tenants/" + id, `{"name":"b"}`, []string{"If-Match: abc"}, 400, "If-Match"},
		{"patch stale", "PATCH", "/api/tenants/" + id, `{"name":"b"}`, []string{`If-Match: "7"`}, 412, ""},
		{"patch unknown field", "PATCH", "/api/tenants/" + id, `{"status":"deleted"}`, nil, 400, "status"},
		{"patch bad settings", "PATCH", "/api/tenants/" + id, `{"settings":{"rateLimit":{"perSecond":-1,"burst":1}}}`, nil, 400, "settings.rateLimit.perSecond"},
		{"patch settings wrong type", "PATCH", "/api/tenants/" + id, `{"settings":{"rateLimit":"fast"}}`, nil, 400, "settings.rateLimit"},
		{"unknown tenant", "GET", "/api/tenants/00000000-0000-4000-8000-000000000000", "", nil, 404, ""},
		{"not a uuid", "GET", "/api/tenants/nope", "", nil, 404, ""},
		{"suspend unknown", "POST", "/api/tenants/00000000-0000-4000-8000-000000000000/suspend", "", nil, 404, ""},
		{"reason too long", "POST", "/api/tenants/" + id + "/suspend", `{"reason":"` + strings.Repeat("r", 600) + `"}`, nil, 400, "reason"},
		{"NUL in a suspend reason", "POST", "/api/tenants/" + id + "/suspend", `{"reason":"a\u0000b"}`, nil, 400, "reason"},
		{"NUL in a delete reason", "DELETE", "/api/tenants/" + id, `{"reason":"a\u0000b"}`, nil, 400, "reason"},
		{"invalid UTF-8 lookup", "GET", "/api/resolve/whatsapp/%ff", "", nil, 404, ""},
		{"NUL lookup", "GET", "/api/resolve/genesys/a%00b", "", nil, 404, ""},
		{"invalid UTF-8 actor filter", "GET", "/api/events?actor=%ff", "", nil, 400, "actor"},
		{"NUL actor filter", "GET", "/api/tenants/" + id + "/events?actor=a%00b", "", nil, 400, "actor"},
		{"bad limit", "GET", "/api/tenants?limit=0", "", nil, 400, "limit"},
		{"huge limit", "GET", "/api/tenants?limit=100000", "", nil, 400, "limit"},
		{"bad status", "GET", "/api/tenants?status=gone", "", nil, 400, "status"},
		{"bad cursor", "GET", "/api/tenants?cursor=!!!", "", nil, 400, "cursor"},
		{"forged cursor", "GET", "/api/tenants?cursor=Zm9v", "", nil, 400, "cursor"},
		{"bad version", "GET", "/api/tenants/" + id + "?version=x", "", nil, 400, "version"},
		{"version zero", "GET", "/api/tenants/" + id + "?version=0", "", nil, 400, "version"},
		{"missing version", "GET", "/api/tenants/" + id + "?version=99", "", nil, 404, ""},
		{"bad asOf", "GET", "/api/tenants/" + id + "?asOf=yesterday", "", nil, 400, "asOf"},
		{"before creation", "GET", "/api/tenants/" + id + "?asOf=2001-01-01T00:00:00Z", "", nil, 404, ""},
		{"bad afterVersion", "GET", "/api/tenants/" + id + "/events?afterVersion=-1", "", nil, 400, "afterVersion"},
		{"bad afterPosition", "GET", "/api/events?afterPosition=x", "", nil, 400, "afterPosition"},
		{"bad type", "GET", "/api/events?type=Nope", "", nil, 400, "type"},
		{"bad from", "GET", "/api/events?from=today", "", nil, 400, "from"},
		{"bad tenantId filter", "GET", "/api/events?tenantId=x", "", nil, 400, "tenantId"},
		{"unknown route", "GET", "/api/nothing", "", nil, 404, ""},
		{"wrong method", "PUT", "/api/tenants", `{}`, nil, 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r response
			if c.body == "" && len(c.headers) > 0 {
				r = a.do(c.method, c.path, adminKey, "", c.headers...)
			} else {
				r = a.do(c.method, c.path, adminKey, c.body, c.headers...)
			}
			expectProblem(t, r, c.status, c.field)
		})
	}
	// None of it changed anything: one tenant at version 1.
	r := a.do("GET", "/api/tenants/"+id, adminKey, "")
	if v := r.json(t)["version"]; v != float64(1) {
		t.Fatalf("bad inputs changed the tenant: version %v", v)
	}
	if n := len(a.do("GET", "/api/events", adminKey, "").json(t)["items"].([]any)); n != 1 {
		t.Fatalf("bad inputs recorded events: %d", n)
	}
}

// Random garbage in paths, queries, headers and bodies never gets a 500.
func TestMalformedRequestsNever500(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Target")
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{`{`, `}`, `"name"`, `:`, `null`, `[`, `]`, `1e999`, `-0`, `"\ud800"`, `"settings"`, `{"rateLimit":`,
		`true`, `,`, `"externalRef"`, `"é"`, `"\u0000"`, `99999999999999999999`, `"reason"`}
	paths := []string{"/api/tenants", "/api/tenants/" + id, "/api/tenants/" + id + "/suspend", "/api/tenants/" + id + "/reactivate",
		"/api/tenants/" + id + "/events", "/api/events", "/api/tenants/%00", "/api/tenants/" + id + "/../../x"}
	queries := []string{"", "?limit=-5", "?limit=1e3", "?cursor=" + strings.Repeat("A", 500), "?asOf=2026-13-45T99:00:00Z",
		"?version=18446744073709551616", "?afterPosition=9223372036854775807", "?status=,,,", "?type=,"}
	methods := []string{"GET", "POST", "PATCH", "DELETE", "PUT"}
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for j := rng.IntN(8); j > 0; j-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		m := methods[rng.IntN(len(methods))]
		p := paths[rng.IntN(len(paths))] + queries[rng.IntN(len(queries))]
		headers := []string{"Content-Type: application/json"}
		if rng.IntN(3) == 0 {
			headers = append(headers, "If-Match: "+[]string{`"0"`, `W/"x"`, `"-1"`, `*`, `"99999999999999999999"`}[rng.IntN(5)])
		}
		r := a.do(m, p, adminKey, b.String(), headers...)
		if r.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", m, p, b.String(), r.status, r.body)
		}
	}
}

// A route whose body is optional accepts an empty body whatever its
// Content-Type: clients (and the README's own tour) send
// Content-Type: application/json on every request.
func TestEmptyBodyIsAcceptedWhateverItsContentType(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Bodiless")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"5500","phoneNumberId":"5501","accessToken":"EAAbodiless-token-123456"}`)
	for _, ct := range []string{"application/json", "text/plain", ""} {
		for _, step := range []struct{ method, path, status string }{
			{"POST", "/suspend", "suspended"}, {"POST", "/reactivate", "active"},
		} {
			headers := []string{}
			if ct != "" {
				headers = append(headers, "Content-Type: "+ct)
			}
			r := a.do(step.method, "/api/tenants/"+id+step.path, adminKey, "", headers...)
			if r.status != 200 || r.json(t)["status"] != step.status {
				t.Fatalf("%s %s with Content-Type %q and no body: %d %s", step.method, step.path, ct, r.status, r.body)
			}
		}
	}
	// A body that is not JSON is still refused.
	expectProblem(t, a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "reason=x", "Content-Type: text/plain"), 415, "")
	// The tour's crypto-shred: DELETE with Content-Type: application/json and no body.
	r := a.do("DELETE", "/api/tenants/"+id, adminKey, "", "Content-Type: application/json")
	if r.status != 200 || r.json(t)["status"] != "deleted" {
		t.Fatalf("DELETE with Content-Type and no body: %d %s", r.status, r.body)
	}
	p := expectProblem(t, a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""), 422, "")
	if p["code"] != "secrets-shredded" {
		t.Fatalf("after the delete the token route says %v", p["code"])
	}
}
