package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"tenant-service/genesys/genesystest"
)

func credentialsBody(clientID, secret, region string) string {
	return fmt.Sprintf(`{"clientId":%s,"clientSecret":%s,"region":%s}`, quote(clientID), quote(secret), quote(region))
}

func TestGenesysCredentials(t *testing.T) {
	t.Parallel()
	fake := genesystest.NewServer(t, genesystest.Config{ExpiresIn: 3600})
	env := testEnv(t)
	env["GENESYS_LOGIN_URL"] = fake.URL
	a := startApp(t, env)
	id := a.createTenant("Genesys")
	base := "/api/tenants/" + id + "/genesys/credentials"

	expectProblem(t, a.do("GET", base, adminKey, ""), 404, "")
	const secret1 = "first-client-secret-AAAA1111"
	fake.AddClient("client-1", secret1)
	r := a.do("PUT", base, adminKey, credentialsBody("client-1", secret1, "mypurecloud.de"))
	if r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r = a.do("GET", base, auditorKey, "")
	if v := r.json(t); r.status != 200 || v["clientSecret"] != "****1111" || v["clientId"] != "client-1" || v["region"] != "mypurecloud.de" {
		t.Fatalf("masked get: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), secret1) {
		t.Fatal("masked view shows the secret")
	}
	r = a.do("GET", base+"/secret", serviceKey, "")
	if v := r.json(t); r.status != 200 || v["clientSecret"] != secret1 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("secret: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("GET", base+"/secret", auditorKey, ""), 403, "")
	expectProblem(t, a.do("PUT", base, serviceKey, credentialsBody("c", secret1, "mypurecloud.de")), 403, "")

	// Tokens: 200 concurrent cold requests make one call to Genesys.
	var wg sync.WaitGroup
	tokens := make([]string, 200)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, "")
			if r.status != 200 {
				t.Errorf("token: %d %s", r.status, r.body)
				return
			}
			tokens[i] = r.json(t)["accessToken"].(string)
		}()
	}
	wg.Wait()
	if fake.Calls() != 1 {
		t.Fatalf("cold cache: %d calls to Genesys, want 1", fake.Calls())
	}
	for _, tok := range tokens {
		if tok == "" || tok != tokens[0] {
			t.Fatalf("tokens differ: %q vs %q", tok, tokens[0])
		}
	}
	a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, "")
	if fake.Calls() != 1 {
		t.Fatalf("warm cache called Genesys: %d", fake.Calls())
	}

	// Rotation: CredentialsRotated, and the next token uses the new secret.
	const secret2 = "second-client-secret-BBBB2222"
	fake.AddClient("client-2", secret2)
	if r = a.do("PUT", base, adminKey, credentialsBody("client-2", secret2, "mypurecloud.de")); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, "")
	if r.status != 200 || fake.Calls() != 2 || r.json(t)["accessToken"] == tokens[0] {
		t.Fatalf("after rotation: %d calls=%d %s", r.status, fake.Calls(), r.body)
	}
	events := a.do("GET", "/api/tenants/"+id+"/events", adminKey, "").json(t)["items"].([]any)
	if events[1].(map[string]any)["type"] != "GenesysCredentialsSet" || events[2].(map[string]any)["type"] != "CredentialsRotated" {
		t.Fatalf("credential events: %v", events)
	}

	// Genesys refusing the credentials is a 502 with Genesys' words, never the secret.
	const badSecret = "unknown-client-secret-CCCC3333"
	a.do("PUT", base, adminKey, credentialsBody("client-3", badSecret, "mypurecloud.de"))
	r = a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, "")
	p := expectProblem(t, r, 502, "")
	if !strings.Contains(fmt.Sprint(p["detail"]), "invalid_client") || strings.Contains(string(r.body), badSecret) {
		t.Fatalf("refusal: %s", r.body)
	}
}

func TestCredentialsBadInput(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Bad creds")
	base := "/api/tenants/" + id + "/genesys/credentials"
	for _, c := range []struct {
		body, field string
	}{
		{credentialsBody("c", "s-secret", "evil.example.com"), "region"},
		{credentialsBody("c", "s-secret", ""), "region"},
		{credentialsBody("", "s-secret", "mypurecloud.com"), "clientId"},
		{credentialsBody("c", "", "mypurecloud.com"), "clientSecret"},
		{credentialsBody(strings.Repeat("c", 200), "s", "mypurecloud.com"), "clientId"},
		{credentialsBody("c", strings.Repeat("s", 5000), "mypurecloud.com"), "clientSecret"},
		{`{"clientId":"c","clientSecret":"s","region":"mypurecloud.com","extra":1}`, "extra"},
	} {
		expectProblem(t, a.do("PUT", base, adminKey, c.body), 400, c.field)
	}
	ok := credentialsBody("c", "s-secret", "mypurecloud.com")
	expectProblem(t, a.do("PUT", "/api/tenants/00000000-0000-4000-8000-000000000001/genesys/credentials", adminKey, ok), 404, "")
	a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	expectProblem(t, a.do("PUT", base, adminKey, ok), 422, "")
	expectProblem(t, a.do("PUT", "/api/tenants/"+id+"/genesys/integration", adminKey, `{"integrationId":"x"}`), 422, "")
}

func TestIntegrationUniqueAcrossLiveTenants(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	first, second := a.createTenant("One"), a.createTenant("Two")
	body := `{"integrationId":"8f1c2d3e-int","webhookSecret":"hook-secret-DDDD4444"}`
	if r := a.do("PUT", "/api/tenants/"+first+"/genesys/integration", adminKey, body); r.status != 200 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	r := a.do("PUT", "/api/tenants/"+second+"/genesys/integration", adminKey, body)
	p := expectProblem(t, r, 409, "")
	if !strings.Contains(fmt.Sprint(p["detail"]), first) {
		t.Fatalf("admins learn the owner: %s", r.body)
	}
	if n := len(a.do("GET", "/api/tenants/"+second+"/events", adminKey, "").json(t)["items"].([]any)); n != 1 {
		t.Fatalf("a refused claim wrote events: %d", n)
	}
	// Deleting the owner frees the id.
	a.do("DELETE", "/api/tenants/"+first, adminKey, "")
	if r := a.do("PUT", "/api/tenants/"+second+"/genesys/integration", adminKey, body); r.status != 200 {
		t.Fatalf("after the owner's deletion: %d %s", r.status, r.body)
	}
	bad := []struct{ body, field string }{
		{`{"integrationId":""}`, "integrationId"},
		{`{"integrationId":"has space"}`, "integrationId"},
		{`{"integrationId":"ok","webhookSecret":" padded "}`, "webhookSecret"},
	}
	for _, c := range bad {
		expectProblem(t, a.do("PUT", "/api/tenants/"+second+"/genesys/integration", adminKey, c.body), 400, c.field)
	}
}

// Deleting a tenant destroys its data key: history still replays, secrets
// cannot be had, and the API says so.
func TestCryptoShredding(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Shred")
	a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey, credentialsBody("c", "shred-me-secret-EEEE5555", "mypurecloud.ie"))
	if r := a.do("GET", "/api/tenants/"+id+"/genesys/credentials/secret", serviceKey, ""); r.status != 200 {
		t.Fatalf("before delete: %d", r.status)
	}
	a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	r := a.do("GET", "/api/tenants/"+id+"/genesys/credentials/secret", serviceKey, "")
	if p := expectProblem(t, r, 422, ""); p["code"] != "secrets-shredded" {
		t.Fatalf("after delete: %s", r.body)
	}
	r = a.do("GET", "/api/tenants/"+id+"?version=2", auditorKey, "")
	if r.status != 200 || r.json(t)["genesys"].(map[string]any)["clientSecret"] != "****5555" {
		t.Fatalf("history after shredding: %d %s", r.status, r.body)
	}
	var destroyed bool
	if err := a.app.pool.QueryRow(t.Context(), `SELECT wrapped IS NULL AND destroyed_at IS NOT NULL FROM data_keys WHERE tenant_id = $1`, id).Scan(&destroyed); err != nil || !destroyed {
		t.Fatalf("data key not destroyed: %v %v", destroyed, err)
	}
}
