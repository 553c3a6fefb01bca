package main

import (
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/asyncapitest"
	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
)

// What the service publishes is what its AsyncAPI document says: the test
// drives the API (and Meta's side through the fake Graph API and a signed
// webhook) until every event type of the domain was published, then
// validates every message a bound queue received (routing key, headers,
// the whole body and the AMQP properties) against the document the service
// serves at /asyncapi.json, without a key.
func TestPublishedEventsMatchAsyncAPI(t *testing.T) {
	t.Parallel()
	fake := graphtest.NewServer(t, graphtest.Config{})
	env := testEnv(t)
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_GRAPH_URL"] = fake.AppID(), fake.AppSecret(), fake.URL
	tap := bindTap(t, env)
	a := startApp(t, env)

	r := a.do("GET", "/asyncapi.json", "", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /asyncapi.json: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	doc, err := asyncapitest.Load(r.body)
	if err != nil {
		t.Fatalf("the served AsyncAPI document: %v", err)
	}

	// Every optional field and header once: a traced request with
	// correlation and causation ids and an idempotency key.
	r = a.do("POST", "/api/tenants", adminKey, `{"name":"Described","externalRef":"crm-7","settings":{"rateLimit":{"perSecond":5,"burst":10}}}`,
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Idempotency-Key: described-1",
		"X-Correlation-ID: corr-1", "X-Causation-ID: cause-1")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["tenantId"].(string)
	fake.AddCode("code-d", graphtest.Token{Value: "EAAsignup-token-DDDD4444", WABAs: []string{"8100"},
		ExpiresAt: time.Now().Add(60 * 24 * time.Hour).Unix()})
	fake.AddPhoneNumbers("8100", graphtest.PhoneNumber{ID: "8201", DisplayPhoneNumber: "+1 555 0199", VerifiedName: "Described"})
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/api/tenants/" + id, `{"name":"Described Ltd","externalRef":"","settings":{"rateLimit":{"perSecond":6,"burst":12}}}`},
		{"POST", "/api/tenants/" + id + "/suspend", `{"reason":"audit"}`},
		{"POST", "/api/tenants/" + id + "/reactivate", ""},
		{"PUT", "/api/tenants/" + id + "/genesys/credentials", credentialsBody("cid-1", "first-secret-AAAA1111", "mypurecloud.de")},
		{"PUT", "/api/tenants/" + id + "/genesys/credentials", credentialsBody("cid-2", "short", "mypurecloud.ie")},
		{"PUT", "/api/tenants/" + id + "/genesys/integration", `{"integrationId":"int-described","webhookSecret":"hook-secret-BBBB2222"}`},
		{"PUT", "/api/tenants/" + id + "/genesys/integration", `{"integrationId":"int-described-2"}`},
		{"POST", "/api/tenants/" + id + "/whatsapp", `{"wabaId":"8100","phoneNumberId":"8101","displayPhoneNumber":"+49 30 1234","accessToken":"EAAmanual-CCCC3333"}`},
		{"POST", "/api/whatsapp/signup", `{"tenantId":"` + id + `","code":"code-d","wabaId":"8100","phoneNumberId":"8201","businessId":"9001"}`},
	} {
		if r := a.do(c.method, c.path, adminKey, c.body); r.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	hook := `{"object":"whatsapp_business_account","entry":[{"id":"8100","time":1700000000,"changes":[` +
		`{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"April 17, 2026"}}},` +
		`{"field":"phone_number_name_update","value":{"display_phone_number":"493012340","decision":"APPROVED","requested_verified_name":"Described Ünïcode"}}]},` +
		`{"id":"8100","changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"15550199","event":"FLAGGED","current_limit":"TIER_1K"}}]}]}`
	r = a.do("POST", "/api/whatsapp/webhook", "", hook, "X-Hub-Signature-256: "+metagraph.Sign(fake.AppSecret(), []byte(hook)))
	if r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"DELETE", "/api/tenants/" + id + "/whatsapp/8101", ""},
		{"DELETE", "/api/tenants/" + id, `{"reason":"described"}`},
	} {
		if r := a.do(c.method, c.path, adminKey, c.body); r.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}

	events := committedEvents(t, a.app.pool)
	tap.waitAll(t, 30*time.Second, events)
	published := map[string]int{}
	for _, d := range tap.deliveries() {
		published[d.Type]++
		if err := doc.Check(asyncapitest.FromDelivery(d.Delivery)); err != nil {
			t.Errorf("a published message does not match /asyncapi.json:\n%v\nbody: %s", err, d.Body)
		}
	}
	for _, typ := range domain.EventTypes() {
		if published[typ] == 0 {
			t.Errorf("no %s was published: make this test cause one, so that its messages are checked against the document", typ)
		}
	}
	if !t.Failed() {
		t.Logf("%d messages match the document, by event type: %v", len(tap.deliveries()), published)
	}
}
