package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
)

func eventTypes(t *testing.T, a *testApp, id string) []string {
	t.Helper()
	var out []string
	for _, e := range a.do("GET", "/api/tenants/"+id+"/events?limit=500", adminKey, "").json(t)["items"].([]any) {
		out = append(out, e.(map[string]any)["type"].(string))
	}
	return out
}

func TestWhatsAppLinkAndUnlink(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("WA")
	r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey,
		`{"wabaId":"1001","phoneNumberId":"2001","displayPhoneNumber":"+49 30 1234","accessToken":"EAAmanual-token-FFFF6666"}`)
	if r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	w := r.json(t)["whatsapp"].(map[string]any)
	if w["wabaId"] != "1001" || w["token"] != "****6666" || w["tokenStored"] != true || strings.Contains(string(r.body), "EAAmanual") {
		t.Fatalf("linked view: %s", r.body)
	}
	if got := strings.Join(eventTypes(t, a, id), ","); got != "TenantCreated,WABALinked,WhatsAppTokenStored" {
		t.Fatalf("events: %s", got)
	}
	// A second number of the same WABA; a number of another WABA is refused.
	if r = a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"1001","phoneNumberId":"2002"}`); r.status != 201 {
		t.Fatalf("second number: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"9999","phoneNumberId":"2003"}`), 422, "")
	for _, c := range []struct{ body, field string }{
		{`{"phoneNumberId":"1"}`, "wabaId"},
		{`{"wabaId":"1"}`, "phoneNumberId"},
		{`{"wabaId":"1","phoneNumberId":"a/b"}`, "phoneNumberId"},
		{`{"wabaId":"1","phoneNumberId":"2","accessToken":""}`, "accessToken"},
		{`{"wabaId":"1","phoneNumberId":"2","displayPhoneNumber":"` + strings.Repeat("9", 40) + `"}`, "displayPhoneNumber"},
	} {
		expectProblem(t, a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, c.body), 400, c.field)
	}
	if r = a.do("DELETE", "/api/tenants/"+id+"/whatsapp/2001", adminKey, ""); r.status != 200 {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("DELETE", "/api/tenants/"+id+"/whatsapp/2001", adminKey, ""), 404, "")
	// The freed number can go to another tenant.
	other := a.createTenant("Other")
	if r = a.do("POST", "/api/tenants/"+other+"/whatsapp", adminKey, `{"wabaId":"1001","phoneNumberId":"2001"}`); r.status != 201 {
		t.Fatalf("relink freed number: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("POST", "/api/tenants/"+other+"/whatsapp", adminKey, `{"wabaId":"1001","phoneNumberId":"2002"}`), 409, "")
}

// Two tenants race to link the same number: exactly one wins.
func TestPhoneNumberRace(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for round := 0; round < 5; round++ {
		ids := []string{a.createTenant("A"), a.createTenant("B"), a.createTenant("C")}
		phone := fmt.Sprintf("77%d", round)
		var wg sync.WaitGroup
		statuses := make([]int, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"5","phoneNumberId":"`+phone+`"}`).status
			}()
		}
		wg.Wait()
		wins := 0
		for _, s := range statuses {
			switch s {
			case 201:
				wins++
			case 409:
			default:
				t.Fatalf("status %d", s)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, wins, statuses)
		}
	}
}

func signupApp(t *testing.T) (*testApp, *graphtest.Server) {
	fake := graphtest.NewServer(t, graphtest.Config{})
	env := testEnv(t)
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_GRAPH_URL"] = fake.AppID(), fake.AppSecret(), fake.URL
	env["META_GRAPH_TIMEOUT"] = "300ms"
	return startApp(t, env), fake
}

func TestEmbeddedSignup(t *testing.T) {
	t.Parallel()
	a, fake := signupApp(t)
	id := a.createTenant("Signup")
	fake.Onboard("code-1", "EAAbusiness-token-GGGG7777", "3001",
		graphtest.PhoneNumber{ID: "4001", DisplayPhoneNumber: "+1 555 0100", VerifiedName: "Acme"},
		graphtest.PhoneNumber{ID: "4002", DisplayPhoneNumber: "+1 555 0101", VerifiedName: "Acme"})
	body := `{"tenantId":"` + id + `","code":"code-1","wabaId":"3001","phoneNumberId":"4001","businessId":"5001"}`
	r := a.do("POST", "/api/whatsapp/signup", adminKey, body)
	if r.status != 200 {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	w := r.json(t)["whatsapp"].(map[string]any)
	phones := w["phoneNumbers"].([]any)
	if len(phones) != 1 || phones[0].(map[string]any)["phoneNumberId"] != "4001" || w["tokenStored"] != true || fake.Subscribed("3001") != 1 {
		t.Fatalf("signed up: %s", r.body)
	}
	if strings.Contains(string(r.body), "EAAbusiness") {
		t.Fatal("the token is in the response")
	}
	// The token is stored encrypted and handed out to services.
	if tok := a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""); tok.status != 200 || tok.json(t)["accessToken"] != "EAAbusiness-token-GGGG7777" {
		t.Fatalf("token route: %s", tok.body)
	}
	// A retried callback with the same code answers the same, without Meta.
	calls := fake.Calls(graphtest.ExchangeCode)
	r2 := a.do("POST", "/api/whatsapp/signup", adminKey, body)
	if r2.status != 200 || fake.Calls(graphtest.ExchangeCode) != calls || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", r2.status, r2.body)
	}
	if got := strings.Join(eventTypes(t, a, id), ","); got != "TenantCreated,WABALinked,WhatsAppTokenStored" {
		t.Fatalf("events: %s", got)
	}
}

// Each failing Graph step gives its status and leaves no event.
func TestEmbeddedSignupFailures(t *testing.T) {
	t.Parallel()
	a, fake := signupApp(t)
	id := a.createTenant("Failing")
	cases := []struct {
		name   string
		setup  func(code string)
		waba   string
		status int
		field  string
	}{
		{"bad code", func(string) {}, "3101", 502, ""},
		{"waba not granted", func(code string) { fake.Onboard(code, "EAAtok-"+code, "3102") }, "3999", 400, "wabaId"},
		{"subscribe refused", func(code string) {
			fake.Onboard(code, "EAAtok-"+code, "3103", graphtest.PhoneNumber{ID: "4103"})
			fake.Fail(graphtest.SubscribeApp, graphtest.Failure{Status: 403, Code: 200, Message: "(#200) Permissions error", Times: 1})
		}, "3103", 502, ""},
		{"server error", func(code string) {
			fake.Onboard(code, "EAAtok-"+code, "3104", graphtest.PhoneNumber{ID: "4104"})
			fake.Fail(graphtest.PhoneNumbers, graphtest.Failure{Status: 500, Code: 2, Message: "An unexpected error has occurred.", Times: 1})
		}, "3104", 502, ""},
		{"network error", func(code string) {
			fake.Onboard(code, "EAAtok-"+code, "3105", graphtest.PhoneNumber{ID: "4105"})
			fake.Fail(graphtest.DebugToken, graphtest.Failure{Body: "<html>bad gateway</html>", Status: 502, Times: 1})
		}, "3105", 502, ""},
		{"slow answer", func(code string) {
			fake.Onboard(code, "EAAtok-"+code, "3106", graphtest.PhoneNumber{ID: "4106"})
			fake.Fail(graphtest.ExchangeCode, graphtest.Failure{Delay: 2 * time.Second, Times: 1})
		}, "3106", 502, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code := fmt.Sprintf("code-fail-%d", i)
			c.setup(code)
			r := a.do("POST", "/api/whatsapp/signup", adminKey, `{"tenantId":"`+id+`","code":"`+code+`","wabaId":"`+c.waba+`"}`)
			p := expectProblem(t, r, c.status, c.field)
			if c.status == 502 && p["upstream"] == nil {
				t.Fatalf("502 without the upstream's words: %s", r.body)
			}
			if strings.Contains(string(r.body), "EAAtok") || strings.Contains(string(r.body), fake.AppSecret()) {
				t.Fatalf("secret in the problem: %s", r.body)
			}
		})
	}
	if got := eventTypes(t, a, id); len(got) != 1 {
		t.Fatalf("failed signups recorded events: %v", got)
	}
	for _, c := range []struct{ body, field string }{
		{`{"tenantId":"x","code":"c","wabaId":"1"}`, "tenantId"},
		{`{"tenantId":"` + id + `","code":"","wabaId":"1"}`, "code"},
		{`{"tenantId":"` + id + `","code":"c","wabaId":"abc"}`, "wabaId"},
		{`{"tenantId":"` + id + `","code":"c","wabaId":"1","phoneNumberId":"x"}`, "phoneNumberId"},
	} {
		expectProblem(t, a.do("POST", "/api/whatsapp/signup", adminKey, c.body), 400, c.field)
	}
	expectProblem(t, a.do("POST", "/api/whatsapp/signup", adminKey, `{"tenantId":"00000000-0000-4000-8000-000000000009","code":"c","wabaId":"1"}`), 404, "")
}

func webhookApp(t *testing.T) *testApp {
	env := testEnv(t)
	env["META_APP_SECRET"], env["META_WEBHOOK_VERIFY_TOKEN"] = "webhook-app-secret", "verify-me"
	return startApp(t, env)
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	a := webhookApp(t)
	id := a.createTenant("Hooked")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"6001","phoneNumberId":"7001"}`)

	r := a.do("GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", "", "")
	if r.status != 200 || string(r.body) != "1158201444" {
		t.Fatalf("handshake: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", ""), 403, "")

	body := `{"object":"whatsapp_business_account","entry":[{"id":"6001","time":1700000000,"changes":[` +
		`{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"April 17, 2026"}}},` +
		`{"field":"phone_number_name_update","value":{"display_phone_number":"15550100","decision":"APPROVED","requested_verified_name":"Acme Ünïcode"}}]},` +
		`{"id":"6999","changes":[{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]}`
	sign := "X-Hub-Signature-256: " + metagraph.Sign("webhook-app-secret", []byte(body))
	for _, bad := range []struct {
		body, sig string
		status    int
	}{
		{body, "X-Hub-Signature-256: sha256=" + strings.Repeat("0", 64), 401},
		{body, "X-Other: x", 401},
		{body[:len(body)-10], sign, 401},
		{`{"object":"whatsapp_business_account","entry":[` + strings.Repeat(" ", 70<<10) + `]}`, sign, 413},
	} {
		expectProblem(t, a.do("POST", "/api/whatsapp/webhook", "", bad.body, bad.sig), bad.status, "")
	}
	if got := eventTypes(t, a, id); len(got) != 2 {
		t.Fatalf("refused webhooks recorded events: %v", got)
	}
	r = a.do("POST", "/api/whatsapp/webhook", "", body, sign)
	if v := r.json(t); r.status != 200 || v["recorded"] != float64(2) || v["ignored"] != float64(1) {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	// Meta retries the same delivery: nothing more is recorded.
	a.do("POST", "/api/whatsapp/webhook", "", body, sign)
	types := eventTypes(t, a, id)
	if strings.Join(types, ",") != "TenantCreated,WABALinked,WhatsAppAccountUpdated,WhatsAppAccountUpdated" {
		t.Fatalf("events after webhook: %v", types)
	}
	w := a.do("GET", "/api/tenants/"+id, adminKey, "").json(t)["whatsapp"].(map[string]any)
	if w["banState"] != "DISABLE" || w["accountName"] != "Acme Ünïcode" {
		t.Fatalf("state after webhook: %v", w)
	}
	// A body that is signed but not JSON is a 400 and records nothing.
	junk := `{"object":`
	expectProblem(t, a.do("POST", "/api/whatsapp/webhook", "", junk, "X-Hub-Signature-256: "+metagraph.Sign("webhook-app-secret", []byte(junk))), 400, "body")
}

// An account webhook names a WABA; every live tenant holding a number of it
// records the update, not just one of them.
func TestWebhookForAWABARecordsOnEveryHolder(t *testing.T) {
	t.Parallel()
	a := webhookApp(t)
	first, second, other := a.createTenant("Holder one"), a.createTenant("Holder two"), a.createTenant("Elsewhere")
	a.do("POST", "/api/tenants/"+first+"/whatsapp", adminKey, `{"wabaId":"6100","phoneNumberId":"7101"}`)
	a.do("POST", "/api/tenants/"+second+"/whatsapp", adminKey, `{"wabaId":"6100","phoneNumberId":"7102"}`)
	a.do("POST", "/api/tenants/"+other+"/whatsapp", adminKey, `{"wabaId":"6200","phoneNumberId":"7201"}`)
	body := `{"object":"whatsapp_business_account","entry":[{"id":"6100","time":1700000000,"changes":[` +
		`{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE"}}}]}]}`
	sign := "X-Hub-Signature-256: " + metagraph.Sign("webhook-app-secret", []byte(body))
	r := a.do("POST", "/api/whatsapp/webhook", "", body, sign)
	if v := r.json(t); r.status != 200 || v["recorded"] != float64(2) {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	a.do("POST", "/api/whatsapp/webhook", "", body, sign) // Meta's retry records nothing more
	for id, want := range map[string]string{first: "DISABLE", second: "DISABLE", other: ""} {
		n := 0
		for _, typ := range eventTypes(t, a, id) {
			if typ == "WhatsAppAccountUpdated" {
				n++
			}
		}
		w, _ := a.do("GET", "/api/tenants/"+id, adminKey, "").json(t)["whatsapp"].(map[string]any)
		if got, _ := w["banState"].(string); got != want || (want != "") != (n == 1) || n > 1 {
			t.Fatalf("tenant %s: ban state %q and %d updates, want %q", id, got, n, want)
		}
	}
}
