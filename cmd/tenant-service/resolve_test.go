package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"tenant-service/internal/testkit"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Resolvable")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"8001","phoneNumberId":"9001","displayPhoneNumber":"+44 20 1234","accessToken":"EAAresolve-token-HHHH8888"}`)
	a.do("PUT", "/api/tenants/"+id+"/genesys/integration", adminKey, `{"integrationId":"int-9001"}`)
	a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey, credentialsBody("cid-9", "resolve-secret-IIII9999", "mypurecloud.jp"))

	r := a.do("GET", "/api/resolve/whatsapp/9001", serviceKey, "")
	c := r.json(t)
	if r.status != 200 || c["tenantId"] != id || c["status"] != "active" {
		t.Fatalf("resolve phone: %d %s", r.status, r.body)
	}
	w := c["whatsapp"].(map[string]any)
	if w["phoneNumberId"] != "9001" || w["wabaId"] != "8001" || w["displayPhoneNumber"] != "+44 20 1234" {
		t.Fatalf("context: %s", r.body)
	}
	if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "EAAresolve") || strings.Contains(string(r.body), "ciphertext") {
		t.Fatalf("secrets in the context: %s", r.body)
	}
	// The Redis model follows the store asynchronously: the credentials land shortly.
	testkit.Eventually(t, 10*time.Second, func() error {
		r := a.do("GET", "/api/resolve/genesys/int-9001", serviceKey, "")
		if g, _ := r.json(t)["genesys"].(map[string]any); r.status != 200 || g["region"] != "mypurecloud.jp" || g["clientId"] != "cid-9" {
			return errorf("resolve integration: %d %s", r.status, r.body)
		}
		return nil
	})
	expectProblem(t, a.do("GET", "/api/resolve/whatsapp/0000", serviceKey, ""), 404, "")
	expectProblem(t, a.do("GET", "/api/resolve/whatsapp/9001", auditorKey, ""), 403, "")
	if r = a.do("GET", "/api/resolve/whatsapp/9001", adminKey, ""); r.status != 200 {
		t.Fatalf("admins resolve too: %d", r.status)
	}
	r = a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, "")
	if r.status != 200 || r.json(t)["accessToken"] != "EAAresolve-token-HHHH8888" {
		t.Fatalf("whatsapp token: %d %s", r.status, r.body)
	}

	// Suspended tenants resolve with their status; the Redis model follows.
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	testkit.Eventually(t, 10*time.Second, func() error {
		r := a.do("GET", "/api/resolve/whatsapp/9001", serviceKey, "")
		if s := r.json(t)["status"]; s != "suspended" {
			return errorf("resolve after suspend: %v", s)
		}
		return nil
	})
	// Deleted: lookups are freed, the token is shredded.
	a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := a.do("GET", "/api/resolve/whatsapp/9001", serviceKey, ""); r.status != 404 {
			return errorf("resolve after delete: %d", r.status)
		}
		if r := a.do("GET", "/api/resolve/genesys/int-9001", serviceKey, ""); r.status != 404 {
			return errorf("resolve integration after delete: %d", r.status)
		}
		return nil
	})
	if p := expectProblem(t, a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""), 422, ""); p["code"] != "secrets-shredded" {
		t.Fatalf("token after delete: %v", p)
	}
}

// With Redis down the resolve route keeps answering from PostgreSQL.
func TestResolveWithRedisDown(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	// A Redis URL where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	env["REDIS_URL"] = "redis://" + dead
	a := startApp(t, env)
	id := a.createTenant("No Redis")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"8101","phoneNumberId":"9101","accessToken":"EAAnoredis-token-JJJJ0000"}`)
	for i := 0; i < 20; i++ {
		r := a.do("GET", "/api/resolve/whatsapp/9101", serviceKey, "")
		if r.status != 200 || r.json(t)["tenantId"] != id {
			t.Fatalf("resolve without redis: %d %s", r.status, r.body)
		}
	}
	if r := a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""); r.status != 200 {
		t.Fatalf("token without redis: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/readyz", "", ""); r.status != 503 || !strings.Contains(string(r.body), `"redis":{"status":"down"`) {
		t.Fatalf("readyz without redis: %d %s", r.status, r.body)
	}
}
