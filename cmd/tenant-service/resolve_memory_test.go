package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// The resolve routes answer from the replica's memory (its hits show on
// /metrics) and, asked with the position of a change, reflect it: an
// update, an unlink, a link after a "not found", a delete.
func TestResolveAnswersFromMemory(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Remembered")
	if r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"7300","phoneNumberId":"7301"}`); r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if r := a.do("PUT", "/api/tenants/"+id+"/genesys/integration", adminKey, `{"integrationId":"mem-int"}`); r.status != 200 {
		t.Fatalf("integration: %d %s", r.status, r.body)
	}
	paths := []string{"/api/resolve/whatsapp/7301", "/api/resolve/genesys/mem-int", "/api/resolve/tenant/" + id}
	head := func() string {
		_, h, _ := progress(t, a.app.pool, projections.RedisTenantsName)
		return strconv.FormatInt(h, 10)
	}
	at := head()
	for range 3 {
		for _, p := range paths {
			if r := a.do("GET", p+"?minPosition="+at, serviceKey, ""); r.status != 200 || r.json(t)["tenantId"] != id {
				t.Fatalf("%s: %d %s", p, r.status, r.body)
			}
		}
	}
	if r := a.do("GET", "/api/resolve/whatsapp/7302", serviceKey, ""); r.status != 404 { // kept: not found
		t.Fatalf("unlinked number: %d %s", r.status, r.body)
	}
	// The follower reads commits a few milliseconds after them (sooner when
	// idle): lookups asking for the head are answered from memory once it has.
	testkit.Until(t, 10*time.Second, "memory hits on /metrics", func() bool {
		if r := a.do("GET", paths[0]+"?minPosition="+at, serviceKey, ""); r.status != 200 {
			t.Fatalf("%s: %d %s", paths[0], r.status, r.body)
		}
		return metric(t, a, "tenant_service_resolve_memory_hits_total") > 0
	})

	a.do("PATCH", "/api/tenants/"+id, adminKey, `{"name":"Remembered 2"}`)
	at = head()
	for _, p := range paths {
		if r := a.do("GET", p+"?minPosition="+at, serviceKey, ""); r.status != 200 || r.json(t)["name"] != "Remembered 2" {
			t.Fatalf("%s after the update: %d %s", p, r.status, r.body)
		}
	}
	a.do("DELETE", "/api/tenants/"+id+"/whatsapp/7301", adminKey, "")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"7300","phoneNumberId":"7302"}`)
	at = head()
	expectProblem(t, a.do("GET", "/api/resolve/whatsapp/7301?minPosition="+at, serviceKey, ""), 404, "")
	if r := a.do("GET", "/api/resolve/whatsapp/7302?minPosition="+at, serviceKey, ""); r.status != 200 || r.json(t)["tenantId"] != id {
		t.Fatalf("number linked after a not found: %d %s", r.status, r.body)
	}
	a.do("DELETE", "/api/tenants/"+id, adminKey, "")
	at = head()
	for _, p := range append(paths, "/api/resolve/whatsapp/7302") {
		expectProblem(t, a.do("GET", p+"?minPosition="+at, serviceKey, ""), 404, "")
	}
	if n := metric(t, a, "tenant_service_resolve_memory_entries"); n < 1 {
		t.Fatalf("memory entries on /metrics: %v", n)
	}
}

// RESOLVE_CACHE_ENTRIES=0 turns the memory off: resolves still answer,
// and /metrics has no memory series.
func TestResolveCacheEntriesZeroTurnsMemoryOff(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["RESOLVE_CACHE_ENTRIES"] = "0"
	a := startApp(t, env)
	id := a.createTenant("Unremembered")
	for range 3 {
		if r := a.do("GET", "/api/resolve/tenant/"+id, serviceKey, ""); r.status != 200 {
			t.Fatalf("resolve: %d %s", r.status, r.body)
		}
	}
	if r := a.do("GET", "/metrics", "", ""); strings.Contains(string(r.body), "tenant_service_resolve_memory") {
		t.Fatal("memory series on /metrics with the memory off")
	}
	for _, bad := range []string{"-1", "many", "1.5"} {
		env["RESOLVE_CACHE_ENTRIES"] = bad
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "RESOLVE_CACHE_ENTRIES") {
			t.Fatalf("RESOLVE_CACHE_ENTRIES=%s: %v", bad, err)
		}
	}
	delete(env, "RESOLVE_CACHE_ENTRIES")
	if cfg, err := loadConfig(func(k string) string { return env[k] }); err != nil || cfg.ResolveCacheEntries != projections.DefaultMemoryEntries {
		t.Fatalf("default: %d, %v", cfg.ResolveCacheEntries, err)
	}
}

// metric returns the value of an unlabelled series on /metrics (-1 when absent).
func metric(t testing.TB, a *testApp, name string) float64 {
	t.Helper()
	r := a.do("GET", "/metrics", "", "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(r.body)
	if m == nil {
		return -1
	}
	var v float64
	if _, err := fmt.Sscan(string(m[1]), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}
