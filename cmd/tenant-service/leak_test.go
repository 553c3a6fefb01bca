package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tenant-service/genesys/genesystest"
	"tenant-service/internal/testkit"
	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
	"tenant-service/projections"
)

// servesSecrets reports the routes that exist to hand secrets to services;
// only their successful answers may hold one.
func servesSecrets(path string) bool {
	path, _, _ = strings.Cut(path, "?")
	return strings.HasSuffix(path, "/genesys/credentials/secret") || strings.HasSuffix(path, "/genesys/token") ||
		strings.HasSuffix(path, "/whatsapp/token")
}

// leakRecorder drives the app and keeps every response.
type leakRecorder struct {
	t        *testing.T
	a        *testApp
	answers  []leakSpot // every response but the service routes'
	handouts []leakSpot // the service routes' responses
}

// call sends a request and records its response; want 0 accepts any status.
func (l *leakRecorder) call(want int, method, path, key, body string, headers ...string) response {
	l.t.Helper()
	r := l.a.do(method, path, key, body, headers...)
	if want != 0 && r.status != want {
		l.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	var h strings.Builder
	for k, vs := range r.header {
		fmt.Fprintf(&h, "%s: %s\n", k, strings.Join(vs, ", "))
	}
	entry := leakSpot{where: fmt.Sprintf("response to %s %s (%d)", method, path, r.status), text: h.String() + string(r.body)}
	if servesSecrets(path) && r.status < 300 {
		l.handouts = append(l.handouts, entry)
	} else {
		l.answers = append(l.answers, entry)
	}
	return r
}

// waitForConvergence waits until the relay published every stored event to
// the capture queue and the Redis model caught up with the store's head.
func waitForConvergence(t *testing.T, a *testApp, q *eventCapture) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		events := committedEvents(t, a.app.pool)
		_, published := q.messages()
		for _, e := range events {
			if !published[e.id] {
				return errorf("event %s not yet received from RabbitMQ (%d events stored)", e.id, len(events))
			}
		}
		if redisPos, head, _ := progress(t, a.app.pool, projections.RedisTenantsName); redisPos < head {
			return errorf("redis model at %d, store at %d", redisPos, head)
		}
		return nil
	})
}

// TestNoPlaintextSecretAnywhere drives every route of the HTTP API with
// recognisable secrets (Genesys client secrets, webhook secrets, WhatsApp
// tokens linked by hand and by Embedded Signup, rotations, refused and
// failing requests), then searches every row of the database, every Redis
// key, every RabbitMQ message, every log line and every response for them.
// Only the successful answers of the three service routes may hold them.
func TestNoPlaintextSecretAnywhere(t *testing.T) {
	t.Parallel()
	sfx := leakHex(6)
	plain := func(name string) string { return "leak-" + name + "-" + sfx }
	var (
		clientSecret1, clientSecret2 = plain("gsecret1"), plain("gsecret2")
		refusedSecret, rejected      = plain("gsecret-refused"), plain("rejected-in-request")
		hookSecret1, hookSecret2     = plain("hook1"), plain("hook2")
		waToken1, waToken2           = "EAA" + plain("manual1"), "EAA" + plain("manual2")
		waRejected, businessToken    = "EAA" + plain("manual-rejected"), "EAA" + plain("business")
		appSecret, signupCode        = plain("appsecret"), plain("signup-code")
		verifyToken                  = plain("verify")
	)
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	gen := genesystest.NewServer(t, genesystest.Config{ExpiresIn: 3600})
	gen.AddClient("leak-client-1", clientSecret1)
	gen.AddClient("leak-client-2", clientSecret2)
	graph := graphtest.NewServer(t, graphtest.Config{AppSecret: appSecret})
	env := testEnv(t)
	env["GENESYS_LOGIN_URL"], env["ENCRYPTION_KEYS"] = gen.URL, "leak1:"+base64.StdEncoding.EncodeToString(kek)
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_GRAPH_URL"] = graph.AppID(), appSecret, graph.URL
	env["META_WEBHOOK_VERIFY_TOKEN"], env["META_GRAPH_TIMEOUT"] = verifyToken, "300ms"
	q := captureEvents(t, env) // bound before anything is published
	rdb := leakRedis(t, env["REDIS_URL"], env["REDIS_KEY_PREFIX"])
	logs := &leakLogs{}
	l := &leakRecorder{t: t, a: startAppWithLogs(t, env, logs)}
	secrets := []leakSecret{newLeakSecret("Genesys client secret 1", clientSecret1), newLeakSecret("Genesys client secret 2", clientSecret2),
		newLeakSecret("refused Genesys client secret", refusedSecret), newLeakSecret("secret of a refused request", rejected),
		newLeakSecret("webhook secret 1", hookSecret1), newLeakSecret("webhook secret 2", hookSecret2),
		newLeakSecret("manual WhatsApp token 1", waToken1), newLeakSecret("manual WhatsApp token 2", waToken2),
		newLeakSecret("refused WhatsApp token", waRejected), newLeakSecret("Embedded Signup business token", businessToken),
		newLeakSecret("META_APP_SECRET", appSecret), newLeakSecret("Embedded Signup code", signupCode),
		newLeakSecret("META_WEBHOOK_VERIFY_TOKEN", verifyToken), newLeakSecret("admin API key", adminKey),
		newLeakSecret("service API key", serviceKey), newLeakSecret("auditor API key", auditorKey),
		{name: "ENCRYPTION_KEYS key", variants: []string{base64.StdEncoding.EncodeToString(kek),
			base64.RawURLEncoding.EncodeToString(kek), hex.EncodeToString(kek)}}}

	// Tenant A: Genesys credentials (set, rotated, refused), integration,
	// WhatsApp linked by hand; renamed, suspended, reactivated, deleted.
	createA := `{"name":"Leak A","externalRef":"crm-1","settings":{"rateLimit":{"perSecond":50,"burst":100}}}`
	a := l.call(201, "POST", "/api/tenants", adminKey, createA, "Idempotency-Key: create-"+sfx).json(t)["tenantId"].(string)
	l.call(0, "POST", "/api/tenants", adminKey, createA, "Idempotency-Key: create-"+sfx)
	base, creds := "/api/tenants/"+a, "/api/tenants/"+a+"/genesys/credentials"
	l.call(200, "PUT", creds, adminKey, credentialsBody("leak-client-1", clientSecret1, "mypurecloud.de"), "Idempotency-Key: creds-"+sfx)
	l.call(200, "GET", creds, adminKey, "")
	l.call(200, "GET", creds+"/secret", serviceKey, "")
	l.call(200, "GET", base+"/genesys/token", serviceKey, "")
	l.call(200, "PUT", creds, adminKey, credentialsBody("leak-client-2", clientSecret2, "mypurecloud.de"))
	l.call(200, "GET", base+"/genesys/token", serviceKey, "")
	l.call(200, "GET", base+"/genesys/token", adminKey, "") // from the cache
	l.call(200, "PUT", base+"/genesys/integration", adminKey, `{"integrationId":"leak-int-1","webhookSecret":"`+hookSecret1+`"}`)
	l.call(200, "PUT", base+"/genesys/integration", adminKey, `{"integrationId":"leak-int-1","webhookSecret":"`+hookSecret2+`"}`, "Idempotency-Key: int-"+sfx)
	l.call(200, "GET", creds, auditorKey, "")
	l.call(200, "GET", creds+"/secret", serviceKey, "")
	l.call(201, "POST", base+"/whatsapp", adminKey, `{"wabaId":"61001","phoneNumberId":"71001","displayPhoneNumber":"+49 30 1","accessToken":"`+waToken1+`"}`, "Idempotency-Key: link-"+sfx)
	l.call(201, "POST", base+"/whatsapp", adminKey, `{"wabaId":"61001","phoneNumberId":"71002","accessToken":"`+waToken2+`"}`)
	// The token route reads the Redis model, which follows the store shortly.
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := l.call(200, "GET", base+"/whatsapp/token", serviceKey, ""); r.json(t)["accessToken"] != waToken2 {
			return errorf("whatsapp token not yet the rotated one: %s", r.body)
		}
		return nil
	})
	l.call(200, "DELETE", base+"/whatsapp/71002", adminKey, "")
	asOf := time.Now().UTC().Format(time.RFC3339Nano)

	// Requests that carry a secret and are refused must not echo it.
	l.call(400, "PUT", creds, adminKey, credentialsBody("leak-client-x", rejected, "evil.example.com"))
	l.call(400, "PUT", creds, adminKey, credentialsBody("bad id", rejected, "mypurecloud.de"))
	l.call(400, "PUT", creds, adminKey, `{"clientId":"c","clientSecret":" `+rejected+` ","region":"mypurecloud.de"}`)
	l.call(400, "PUT", creds, adminKey, `{"clientId":"c","clientSecret":"`+rejected+`","region":"mypurecloud.de"`)
	l.call(400, "PUT", creds, adminKey, `{"clientId":5,"clientSecret":"`+rejected+`","region":"mypurecloud.de"}`)
	l.call(415, "PUT", creds, adminKey, credentialsBody("c", rejected, "mypurecloud.de"), "Content-Type: text/plain")
	l.call(403, "PUT", creds, serviceKey, credentialsBody("c", rejected, "mypurecloud.de"))
	l.call(400, "POST", base+"/whatsapp", adminKey, `{"wabaId":"61001","phoneNumberId":"a/b","accessToken":"`+waRejected+`"}`)
	l.call(400, "PUT", base+"/genesys/integration", adminKey, `{"integrationId":"has space","webhookSecret":"`+rejected+`"}`)
	// Genesys refuses a client, then is down once: problems, cached failures.
	l.call(200, "PUT", creds, adminKey, credentialsBody("leak-client-3", refusedSecret, "mypurecloud.de"))
	l.call(502, "GET", base+"/genesys/token", serviceKey, "")
	l.call(200, "PUT", creds, adminKey, credentialsBody("leak-client-2", clientSecret2, "mypurecloud.de"))
	gen.Fail(genesystest.Failure{Status: 503, Times: 1})
	l.call(0, "GET", base+"/genesys/token", serviceKey, "")
	// Rotated back to a working client: a token cached until the tenant is
	// deleted. (The Redis projector drops the cached token when it applies a
	// rotation, so the token is fetched after it caught up.)
	l.call(200, "PUT", creds, adminKey, credentialsBody("leak-client-1", clientSecret1, "mypurecloud.de"))
	waitForConvergence(t, l.a, q)
	l.call(200, "GET", base+"/genesys/token", serviceKey, "")

	// Tenant B: Embedded Signup, retried; tenant C: signups whose Graph calls time out.
	b := l.call(201, "POST", "/api/tenants", adminKey, `{"name":"Leak B"}`).json(t)["tenantId"].(string)
	graph.Onboard(signupCode, businessToken, "62001", graphtest.PhoneNumber{ID: "72001", DisplayPhoneNumber: "+1 555 0100", VerifiedName: "Leak"})
	signup := `{"tenantId":"` + b + `","code":"` + signupCode + `","wabaId":"62001","phoneNumberId":"72001","businessId":"63001"}`
	l.call(200, "POST", "/api/whatsapp/signup", adminKey, signup)
	l.call(200, "POST", "/api/whatsapp/signup", adminKey, signup)
	l.call(200, "GET", "/api/tenants/"+b+"/whatsapp/token", serviceKey, "")
	c := l.call(201, "POST", "/api/tenants", adminKey, `{"name":"Leak C"}`).json(t)["tenantId"].(string)
	for i, step := range []graphtest.Endpoint{graphtest.ExchangeCode, graphtest.DebugToken, graphtest.SubscribeApp, graphtest.PhoneNumbers} {
		code, tok, waba := plain(fmt.Sprintf("slow-code-%d", i)), "EAA"+plain(fmt.Sprintf("slow-token-%d", i)), fmt.Sprint(64001+i)
		secrets = append(secrets, newLeakSecret("code of a failed signup", code), newLeakSecret("token of a failed signup", tok))
		graph.Onboard(code, tok, waba, graphtest.PhoneNumber{ID: fmt.Sprint(74001 + i)})
		graph.Fail(step, graphtest.Failure{Delay: time.Second, Times: 1})
		l.call(502, "POST", "/api/whatsapp/signup", adminKey, `{"tenantId":"`+c+`","code":"`+code+`","wabaId":"`+waba+`"}`)
	}

	// Meta's webhook: handshake, a signed account update, a forged one.
	l.call(200, "GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=4242", "", "")
	l.call(403, "GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", "")
	hook := `{"object":"whatsapp_business_account","entry":[{"id":"62001","time":1700000000,"changes":[{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"April 17, 2026"}}}]}]}`
	l.call(200, "POST", "/api/whatsapp/webhook", "", hook, "X-Hub-Signature-256: "+metagraph.Sign(appSecret, []byte(hook)))
	l.call(401, "POST", "/api/whatsapp/webhook", "", hook, "X-Hub-Signature-256: sha256="+strings.Repeat("0", 64))

	// Resolve, once the Redis model has the integration.
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := l.call(0, "GET", "/api/resolve/genesys/leak-int-1", serviceKey, ""); r.status != 200 || !strings.Contains(string(r.body), `"clientId":"leak-client-1"`) {
			return errorf("resolve integration: %d %s", r.status, r.body)
		}
		return nil
	})
	l.call(200, "GET", "/api/resolve/whatsapp/71001", serviceKey, "")
	l.call(200, "GET", "/api/resolve/whatsapp/72001", adminKey, "")
	l.call(404, "GET", "/api/resolve/whatsapp/71002", serviceKey, "")

	// Status, update, history and feeds.
	l.call(200, "POST", base+"/suspend", adminKey, `{"reason":"leak test"}`)
	l.call(200, "POST", base+"/reactivate", adminKey, "")
	etag := l.call(200, "GET", base, adminKey, "").header.Get("ETag")
	l.call(200, "PATCH", base, adminKey, `{"name":"Leak A renamed","settings":{"rateLimit":{"perSecond":5,"burst":10}}}`, "If-Match: "+etag)
	l.call(412, "PATCH", base, adminKey, `{"name":"stale"}`, "If-Match: "+etag)
	version := int(l.call(200, "GET", base, adminKey, "").json(t)["version"].(float64))
	for v := 1; v <= version; v++ {
		l.call(200, "GET", fmt.Sprintf("%s?version=%d", base, v), auditorKey, "")
	}
	l.call(200, "GET", base+"?asOf="+url.QueryEscape(asOf), auditorKey, "")
	l.call(200, "GET", "/api/tenants", adminKey, "")
	if next, _ := l.call(200, "GET", "/api/tenants?status=active&limit=1", auditorKey, "").json(t)["nextCursor"].(string); next != "" {
		l.call(200, "GET", "/api/tenants?status=active&limit=1&cursor="+url.QueryEscape(next), auditorKey, "")
	}
	for _, tenant := range []string{a, b, c} {
		l.call(200, "GET", "/api/tenants/"+tenant, auditorKey, "")
		l.call(200, "GET", "/api/tenants/"+tenant+"/events?limit=500", auditorKey, "")
	}
	l.call(200, "GET", base+"/events?afterVersion=2&limit=3", adminKey, "")
	l.call(200, "GET", "/api/events?limit=500", auditorKey, "")
	l.call(200, "GET", "/api/events?type=GenesysCredentialsSet,CredentialsRotated,GenesysIntegrationLinked,WABALinked,WhatsAppTokenStored", adminKey, "")
	l.call(200, "GET", "/api/events?tenantId="+b, adminKey, "")
	l.call(200, "GET", "/healthz", "", "")
	l.call(0, "GET", "/readyz", "", "")

	// Deletion drops tenant A's Redis keys (its cached Genesys token among
	// them): dump them first.
	waitForConvergence(t, l.a, q)
	redisBeforeDelete := dumpRedis(t, rdb, env["REDIS_KEY_PREFIX"], []string{a, b, c})
	if !slices.ContainsFunc(redisBeforeDelete, func(h leakSpot) bool { return strings.Contains(h.where, "token:genesys:"+a) }) {
		t.Errorf("no cached Genesys token in Redis to search: %v", redisBeforeDelete)
	}

	// Deletion: the final state, history and refusals afterwards.
	l.call(200, "DELETE", base, adminKey, "")
	l.call(200, "GET", base, auditorKey, "")
	l.call(200, "GET", base+"?version=3", auditorKey, "")
	l.call(200, "GET", "/api/tenants?status=deleted", adminKey, "")
	l.call(422, "GET", creds+"/secret", serviceKey, "")
	l.call(422, "GET", base+"/whatsapp/token", serviceKey, "")
	l.call(0, "GET", base+"/genesys/token", serviceKey, "")
	l.call(0, "GET", creds, auditorKey, "")
	l.call(422, "PUT", creds, adminKey, credentialsBody("leak-client-4", rejected, "mypurecloud.de"))
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := l.call(0, "GET", "/api/resolve/whatsapp/71001", serviceKey, ""); r.status != 404 {
			return errorf("resolve after delete: %d", r.status)
		}
		return nil
	})
	l.call(200, "GET", "/metrics", "", "")

	waitForConvergence(t, l.a, q)
	for _, tok := range gen.Issued() {
		secrets = append(secrets, newLeakSecret("Genesys access token", tok))
	}
	// The secrets are real: the service routes handed each live one out.
	live := []leakSecret{newLeakSecret("Genesys client secret 2", clientSecret2), newLeakSecret("webhook secret 2", hookSecret2),
		newLeakSecret("manual WhatsApp token 2", waToken2), newLeakSecret("Embedded Signup business token", businessToken)}
	if issued := gen.Issued(); len(issued) > 0 {
		live = append(live, newLeakSecret("last Genesys access token", issued[len(issued)-1]))
	}
	for _, s := range live {
		if _, _, ok := s.found(l.handouts); !ok {
			t.Errorf("no service route handed out the %s: the scenario is broken; handed out: %v", s.name, l.handouts)
		}
	}
	channels := collectChannels(t, l, q, logs, rdb, env["REDIS_KEY_PREFIX"], []string{a, b, c})
	channels["redis"] = append(channels["redis"], redisBeforeDelete...)
	requireSeen(t, channels, b)
	if len(channels["responses"]) < 80 {
		t.Errorf("only %d responses recorded", len(channels["responses"]))
	}
	var all []leakSpot
	for name, hs := range channels {
		t.Logf("searched %d entries of %s", len(hs), name)
		all = append(all, hs...)
	}
	t.Logf("searched for %d secrets", len(secrets))
	leakCheck(t, secrets, all)
	proveDetector(t, l, q, logs, rdb, env["REDIS_KEY_PREFIX"], b, sfx)
}
