package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tenant-service/metagraph"
)

// fuzzApp starts the whole service for a fuzz target (once per fuzzing
// process) with limits high enough that nothing is rate limited.
func fuzzApp(f *testing.F) (*testApp, string) {
	env := testEnv(f)
	env["API_KEY_RATE_LIMIT"], env["SERVICE_KEY_RATE_LIMIT"] = "100000:100000", "100000:100000"
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_WEBHOOK_VERIFY_TOKEN"] = "1234", "fuzz-app-secret", "verify"
	a := startApp(f, env)
	id := a.createTenant("Fuzzed")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"3300","phoneNumberId":"3301","accessToken":"EAAfuzz-token-0123456789"}`)
	return a, id
}

// FuzzRequest sends any method, path, query, header value and body to the
// whole service (real PostgreSQL, Redis and RabbitMQ): the answer is never
// a 5xx. "{id}" in the path stands for a real tenant.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, path, query, header, body string }{
		{"GET", "/api/resolve/whatsapp/%ff", "", "", ""},
		{"GET", "/api/resolve/genesys/a%00b", "minPosition=1", "", ""},
		{"POST", "/api/tenants/{id}/suspend", "", "", `{"reason":"a\u0000b"}`},
		{"DELETE", "/api/tenants/{id}", "", "", `{"reason":"\ud800"}`},
		{"POST", "/api/tenants", "", "k\xff", `{"name":"x\u0000"}`},
		{"GET", "/api/events", "actor=%ff&from=%00", "", ""},
		{"GET", "/api/tenants/{id}/events", "type=TenantCreated&actor=a%00", "", ""},
		{"PATCH", "/api/tenants/{id}", "", `"1"`, `{"settings":{"rateLimit":{"perSecond":1e309}}}`},
		{"PUT", "/api/tenants/{id}/genesys/credentials", "", "", `{"clientId":"\u0000","clientSecret":"x","region":"mypurecloud.com"}`},
		{"POST", "/api/tenants/{id}/whatsapp", "", "", `{"wabaId":"1","phoneNumberId":"%ff","displayPhoneNumber":"\u0000"}`},
		{"DELETE", "/api/tenants/{id}/whatsapp/%ff", "", "", ""},
		{"POST", "/api/whatsapp/signup", "", "", `{"tenantId":"{id}","code":"\u0000","wabaId":"1"}`},
		{"GET", "/api/tenants", "cursor=%ff%fe&status=active", "", ""},
		{"GET", "/api/tenants/{id}", "asOf=2026-01-01T00:00:00Z&version=%00", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.header, []byte(s.body))
	}
	a, id := fuzzApp(f)
	f.Fuzz(func(t *testing.T, method, path, query, header string, body []byte) {
		path = strings.ReplaceAll(path, "{id}", id)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u, err := url.Parse(a.srv.URL + path)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			return // not a request a client can send
		}
		u.RawQuery = query
		req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		for _, h := range []string{"Idempotency-Key", "If-Match", "X-Request-ID", "traceparent"} {
			req.Header.Set(h, header)
		}
		res, err := a.srv.Client().Do(req)
		if err != nil {
			return // the client refused to send it (a header it deems invalid)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 && path != "/readyz" {
			t.Fatalf("%s %s?%s (header %q, body %q): %d %s", method, path, query, header, body, res.StatusCode, out)
		}
	})
}

// FuzzWebhook sends any correctly signed body to Meta's webhook route: it is
// recorded, ignored or refused, never a 5xx.
func FuzzWebhook(f *testing.F) {
	for _, s := range []string{
		`{"object":"whatsapp_business_account","entry":[{"id":"3300","changes":[{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE"}}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"3300","changes":[{"field":"account_update","value":{"event":"a\u0000b"}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"a\u0000b","changes":[{"field":"account_update","value":{"event":"X"}}]}]}`,
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"3300\",\"changes\":[{\"field\":\"phone_number_name_update\",\"value\":{\"decision\":\"APPROVED\",\"requested_verified_name\":\"\xff\"}}]}]}",
		`{"object":"whatsapp_business_account","entry":[{"id":"3300","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"3301"},"statuses":[]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"3300","changes":[{"field":"phone_number_quality_update","value":{"event":"FLAGGED","current_limit":"TIER_1K"}}]}]}`,
		`{"object":`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	a, _ := fuzzApp(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 60<<10 {
			return
		}
		at := *a // the app's helpers report to this input's t, not the fuzz target's f
		at.t = t
		r := at.do("POST", "/api/whatsapp/webhook", "", string(body), metagraph.SignatureHeader+": "+metagraph.Sign("fuzz-app-secret", body))
		if r.status >= 500 {
			t.Fatalf("webhook %q: %d %s", body, r.status, r.body)
		}
	})
}
