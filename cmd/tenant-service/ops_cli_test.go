package main

import (
	"strings"
	"testing"
	"time"

	"tenant-service/vault"
)

func TestProjectionsStatusAndRebuildCLI(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Projected")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"11","phoneNumberId":"12"}`)
	eventually(t, 15*time.Second, func() error {
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
	eventually(t, 20*time.Second, func() error {
		if got := len(tap.deliveries()) - before; got < len(want) {
			return errorf("%d of %d events republished to %s", got, len(want), env["AMQP_EXCHANGE"])
		}
		return nil
	})
}
