package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"tenant-service/handlers"
	"tenant-service/metagraph"
)

// badText are values no route may answer with a 5xx: invalid UTF-8, NUL and
// other control characters, an overlong encoding, a bidi override, and
// something far too long. They are percent-encoded for paths and queries.
var badText = []string{"%ff", "%00", "a%00b", "%c0%af", "%e2%80%ae", "%0d%0a", "%7f", "%ed%a0%80", strings.Repeat("9", 5000)}

// jsonStringFields are the string members the routes' bodies have.
var jsonStringFields = []string{"name", "externalRef", "reason", "clientId", "clientSecret", "region", "integrationId",
	"webhookSecret", "wabaId", "phoneNumberId", "displayPhoneNumber", "accessToken", "tenantId", "code", "businessId"}

// Every route, sent a few hundred malformed requests (bad bytes in each path
// parameter, query parameter, header and JSON string member), answers each
// with a 4xx or a 2xx, never a 5xx.
func TestMalformedRequestsToEveryRouteNever5xx(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["API_KEY_RATE_LIMIT"], env["SERVICE_KEY_RATE_LIMIT"] = "100000:100000", "100000:100000"
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_WEBHOOK_VERIFY_TOKEN"] = "1234", "malformed-app-secret", "verify"
	a := startApp(t, env)
	id := a.createTenant("Malformed")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"4400","phoneNumberId":"4401","accessToken":"EAAmalformed-token-0123"}`)
	a.do("PUT", "/api/tenants/"+id+"/genesys/integration", adminKey, `{"integrationId":"malformed-int"}`)

	routes := a.app.Handler().(*handlers.Server).Routes()
	if len(routes) < 25 {
		t.Fatalf("only %d routes found", len(routes))
	}
	queryNames := []string{"limit", "cursor", "status", "q", "type", "actor", "from", "to", "tenantId", "afterPosition",
		"afterVersion", "version", "asOf", "minPosition", "hub.mode", "hub.verify_token", "hub.challenge"}
	headerValues := []string{"\xff\xfe", "é\xc3", strings.Repeat("x", 4000)}
	headerNames := []string{"Idempotency-Key", "If-Match", "X-Request-ID", "X-Correlation-ID", "X-Causation-ID", "traceparent",
		"Content-Type", "X-Hub-Signature-256"}
	sent, per := 0, map[string]int{}
	check := func(rt handlers.Route, method, path string, body []byte, header http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		req.Header = header
		if req.Header.Get("Authorization") == "" {
			req.Header.Set("Authorization", "Bearer "+adminKey)
		}
		res, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		var b []byte
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			b, _ = io.ReadAll(res.Body)
		} // else the live feed, which does not end: its status is what counts
		res.Body.Close()
		sent++
		per[rt.Method+" "+rt.Path]++
		if res.StatusCode >= 500 && !(res.StatusCode == 503 && rt.Path == "/readyz") {
			t.Errorf("%s %s (route %s) with body %q and headers %v: %d %s", method, path, rt.Path, truncateBytes(body), header, res.StatusCode, b)
		}
	}
	json := func() http.Header { return http.Header{"Content-Type": {"application/json"}} }
	for _, rt := range routes {
		good := fill(rt.Path, id)
		// Each path parameter, bad.
		for _, param := range params(rt.Path) {
			for _, bad := range badText {
				check(rt, rt.Method, strings.Replace(good, valueOf(param, id), bad, 1), nil, json())
			}
		}
		// Each query parameter, bad.
		for _, q := range queryNames {
			for _, bad := range badText {
				check(rt, rt.Method, good+"?"+q+"="+bad, nil, json())
			}
		}
		// Each header, bad.
		for _, h := range headerNames {
			for _, v := range headerValues {
				hd := json()
				hd.Set(h, v)
				check(rt, rt.Method, good, []byte(`{"name":"x"}`), hd)
			}
		}
		// Each JSON string member, bad: a NUL escape, raw invalid UTF-8, a lone surrogate.
		for _, f := range jsonStringFields {
			for _, v := range []string{`"a\u0000b"`, "\"a\xffb\"", `"\ud800"`, `"` + strings.Repeat("z", 70000) + `"`} {
				check(rt, rt.Method, good, []byte(`{"`+f+`":`+v+`}`), json())
			}
		}
	}
	// The webhook, signed, with bad bytes in what Meta reports.
	webhook := handlers.Route{Method: "POST", Path: "/api/whatsapp/webhook"}
	for _, v := range []string{`"a\u0000b"`, "\"a\xffb\"", `"\ud800"`, `"%ff"`} {
		for _, tmpl := range []string{
			`{"object":"whatsapp_business_account","entry":[{"id":%s,"changes":[{"field":"account_update","value":{"event":"X"}}]}]}`,
			`{"object":"whatsapp_business_account","entry":[{"id":"4400","changes":[{"field":"account_update","value":{"event":%s}}]}]}`,
			`{"object":"whatsapp_business_account","entry":[{"id":"4400","changes":[{"field":"phone_number_name_update","value":{"decision":"APPROVED","requested_verified_name":%s}}]}]}`,
			`{"object":"whatsapp_business_account","entry":[{"id":"4400","changes":[{"field":"phone_number_quality_update","value":{"event":"FLAGGED","current_limit":%s,"phone_number_id":%s}}]}]}`,
		} {
			body := []byte(strings.ReplaceAll(tmpl, "%s", v))
			hd := json()
			hd.Set(metagraph.SignatureHeader, metagraph.Sign("malformed-app-secret", body))
			check(webhook, "POST", webhook.Path, body, hd)
		}
	}
	for _, rt := range routes {
		if per[rt.Method+" "+rt.Path] < 100 {
			t.Errorf("route %s %s got only %d malformed requests", rt.Method, rt.Path, per[rt.Method+" "+rt.Path])
		}
	}
	t.Logf("%d malformed requests over %d routes", sent, len(routes))
}

// params returns the :param names of a route path.
func params(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, ":") {
			out = append(out, seg[1:])
		}
	}
	return out
}

// valueOf is the good value fill puts for a parameter.
func valueOf(param, tenantID string) string {
	switch param {
	case "tenantId":
		return tenantID
	case "phoneNumberId":
		return "4401"
	case "integrationId":
		return "malformed-int"
	}
	return "x"
}

// fill replaces every :param of path with a good value.
func fill(path, tenantID string) string {
	for _, p := range params(path) {
		path = strings.Replace(path, ":"+p, valueOf(p, tenantID), 1)
	}
	return path
}

func truncateBytes(b []byte) string {
	if len(b) > 120 {
		return fmt.Sprintf("%s… (%d bytes)", b[:120], len(b))
	}
	return string(b)
}
