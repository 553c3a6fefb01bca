package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tenant-service/internal/testkit"
	"tenant-service/vault"
)

func TestProjectionsStatusAndRebuildCLI(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Projected")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"11","phoneNumberId":"12"}`)
	testkit.Eventually(t, 15*time.Second, func() error {
		code, out, errOut := runCLI(t, a.env, "projections", "status")
		if code != 0 {
			return errorf("status: %d %s", code, errOut)
		}
		for _, name := range []string{"redis.tenants", "relay.rabbitmq"} {
			line := ""
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, name+" ") {
					line = l
				}
			}
			if f := strings.Fields(line); len(f) < 5 || f[1] != "2" || f[3] != "0" || f[4] != "yes" {
				return errorf("status of %s: %q in\n%s", name, line, out)
			}
		}
		return nil
	})
	m := string(a.do("GET", "/metrics", "", "").body)
	for _, want := range []string{`tenant_service_projector_lag_events{projector="redis.tenants"} 0`,
		`tenant_service_projector_leader{projector="relay.rabbitmq"} 1`, "tenant_service_event_store_head_position 2",
		"tenant_service_http_request_duration_seconds"} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	// Rebuilds run while the service keeps serving.
	for _, name := range []string{"tenants", "redis.tenants"} {
		code, out, errOut := runCLI(t, a.env, "projections", "rebuild", name)
		if code != 0 || !strings.Contains(out, name+" rebuilt") {
			t.Fatalf("rebuild %s: %d %q %q", name, code, out, errOut)
		}
	}
	if r := a.do("GET", "/api/resolve/whatsapp/12", serviceKey, ""); r.status != 200 || r.json(t)["tenantId"] != id {
		t.Fatalf("resolve after rebuild: %d %s", r.status, r.body)
	}
	if code, _, _ := runCLI(t, a.env, "projections", "rebuild", "nope"); code == 0 {
		t.Fatal("rebuild of an unknown projection succeeded")
	}
}

func TestKeysRotateCLI(t *testing.T) {
	t.Parallel()
	oldKey, err := vault.GenerateKeyEntry("old")
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := vault.GenerateKeyEntry("new")
	env := testEnv(t)
	env["ENCRYPTION_KEYS"] = oldKey
	a := startApp(t, env)
	id := a.createTenant("Rotated")
	a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey, credentialsBody("c", "rotate-me-secret-KKKK1234", "mypurecloud.com"))

	rot := map[string]string{}
	for k, v := range env {
		rot[k] = v
	}
	rot["ENCRYPTION_KEYS"], rot["ENCRYPTION_ACTIVE_KEY"] = newKey+","+oldKey, "new"
	code, out, errOut := runCLI(t, rot, "keys", "rotate")
	if code != 0 || !strings.Contains(out, "1 of 1") {
		t.Fatalf("rotate: %d %q %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, strings.SplitN(newKey, ":", 2)[1]) {
		t.Fatal("rotate printed key material")
	}
	// A service that only knows the new key still opens the secret.
	only := map[string]string{}
	for k, v := range env {
		only[k] = v
	}
	only["ENCRYPTION_KEYS"] = newKey
	b := startApp(t, only)
	r := b.do("GET", "/api/tenants/"+id+"/genesys/credentials/secret", serviceKey, "")
	if r.status != 200 || r.json(t)["clientSecret"] != "rotate-me-secret-KKKK1234" {
		t.Fatalf("after rotation: %d %s", r.status, r.body)
	}
	if code, out, _ := runCLI(t, map[string]string{}, "keys", "generate", "k2"); code != 0 || !strings.HasPrefix(out, "k2:") {
		t.Fatalf("generate: %d %q", code, out)
	}
}

// `projections rebuild relay.rabbitmq` run while no replica leads the relay
// publishes every event again, to AMQP_EXCHANGE.
func TestRebuildRelayCLIPublishesToTheConfiguredExchange(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	tap := bindTap(t, env)
	a, stop := startStoppable(t, env)
	a.createTenant("Republished")
	a.createTenant("Republished too")
	want := committedEvents(t, openPool(t, env))
	tap.waitAll(t, 20*time.Second, want)
	stop()
	before := len(tap.deliveries())

	code, out, errOut := runCLI(t, env, "projections", "rebuild", "relay.rabbitmq")
	if code != 0 || !strings.Contains(out, "relay.rabbitmq rebuilt") {
		t.Fatalf("rebuild relay: %d %q %q", code, out, errOut)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := len(tap.deliveries()) - before; got < len(want) {
			return errorf("%d of %d events republished to %s", got, len(want), env["AMQP_EXCHANGE"])
		}
		return nil
	})
}

// A service started without the key-encryption key that wraps stored data
// keys names the missing key: production refuses to start, development
// warns and answers a request that needs it with a 503 naming it. keys
// retire refuses while the key still wraps data keys, and once rotated
// away records it, after which it may not be the active key again.
func TestMissingAndRetiredKeyEncryptionKeys(t *testing.T) {
	t.Parallel()
	k1, _ := vault.GenerateKeyEntry("k1")
	k2, _ := vault.GenerateKeyEntry("k2")
	env := testEnv(t)
	env["ENCRYPTION_KEYS"] = k1
	a := startApp(t, env)
	id := a.createTenant("Keyed")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"6600","phoneNumberId":"6601","accessToken":"EAAkeyed-token-0123456789"}`)

	// Development, without k1: starts with a warning naming it; the secret is a 503 naming it.
	devEnv := cloneEnv(env)
	devEnv["ENCRYPTION_KEYS"] = k2
	logs := &lockedBuffer{}
	b := startAppWithLogs(t, devEnv, logs)
	if !strings.Contains(logs.String(), `lacks key \"k1\"`) {
		t.Fatalf("no warning naming k1 at start: %s", logs.String())
	}
	p := expectProblem(t, b.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""), 503, "")
	if p["code"] != "encryption-key-missing" || !strings.Contains(p["detail"].(string), `"k1"`) {
		t.Fatalf("problem for a missing key: %v", p)
	}

	// Production, without k1: refuses to start, naming it.
	prodEnv := cloneEnv(devEnv)
	prodEnv["APP_ENV"] = "production"
	cfg, err := loadConfig(func(k string) string { return prodEnv[k] })
	if err != nil {
		t.Fatal(err)
	}
	if app, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		app.Close()
		t.Fatal("production started without the key that wraps a stored data key")
	} else if !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("the refusal does not name k1: %v", err)
	}

	// Retire: refused while k1 wraps the data key, accepted after a rotation.
	if code, _, errOut := runCLI(t, env, "keys", "retire", "k1"); code == 0 || !strings.Contains(errOut, "still wraps") {
		t.Fatalf("retire of a key in use: %d %q", code, errOut)
	}
	both := cloneEnv(env)
	both["ENCRYPTION_KEYS"], both["ENCRYPTION_ACTIVE_KEY"] = k2+","+k1, "k2"
	if code, out, errOut := runCLI(t, both, "keys", "rotate"); code != 0 {
		t.Fatalf("rotate: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, both, "keys", "retire", "k1"); code != 0 || !strings.Contains(out, "destroy it") {
		t.Fatalf("retire after the rotation: %d %q %q", code, out, errOut)
	}
	// k1 retired may not wrap new data keys: production refuses it as the active key.
	retiredActive := cloneEnv(prodEnv)
	retiredActive["ENCRYPTION_KEYS"], retiredActive["ENCRYPTION_ACTIVE_KEY"] = k1+","+k2, "k1"
	cfg, _ = loadConfig(func(k string) string { return retiredActive[k] })
	if app, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		app.Close()
		t.Fatal("production started with a retired active key")
	} else if !strings.Contains(err.Error(), "retired") {
		t.Fatalf("refusal of a retired active key: %v", err)
	}
	// And with k2 only, everything opens again.
	c := startApp(t, cloneEnv(devEnv))
	if r := c.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""); r.status != 200 {
		t.Fatalf("after rotation, with k2 only: %d %s", r.status, r.body)
	}
}
