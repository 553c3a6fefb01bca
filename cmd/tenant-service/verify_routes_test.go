package main

import (
	"strings"
	"testing"

	"tenant-service/eventstore/storetest"
)

func TestVerifyRoutesFindTampering(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	first := a.createTenant("First")                                                          // position 1
	a.do("POST", "/api/tenants/"+first+"/suspend", adminKey, "")                              // 2
	second := a.createTenant("Second")                                                        // 3
	a.do("PATCH", "/api/tenants/"+second, adminKey, `{"name":"Second Ltd"}`, `If-Match: "1"`) // 4
	a.do("DELETE", "/api/tenants/"+first, adminKey, "")                                       // 5

	// Intact: both routes verify; a deleted tenant still has its history.
	for _, key := range []string{adminKey, auditorKey} {
		v := a.do("GET", "/api/tenants/"+first+"/verify", key, "").json(t)
		if v["ok"] != true || v["streamId"] != "tenant-"+first || v["version"] != float64(3) || v["checked"] != float64(3) || v["break"] != nil {
			t.Fatalf("intact tenant: %v", v)
		}
		f := a.do("GET", "/api/events/verify", key, "").json(t)
		if f["ok"] != true || f["from"] != float64(1) || f["to"] != float64(5) || f["checked"] != float64(5) ||
			f["head"] != float64(5) || f["nextAfterPosition"] != nil || f["break"] != nil {
			t.Fatalf("intact feed: %v", f)
		}
	}
	// Paging: the next page continues after the last.
	p := a.do("GET", "/api/events/verify?afterPosition=1&limit=2", auditorKey, "").json(t)
	if p["ok"] != true || p["from"] != float64(2) || p["to"] != float64(3) || p["nextAfterPosition"] != float64(3) {
		t.Fatalf("page: %v", p)
	}
	expectProblem(t, a.do("GET", "/api/tenants/00000000-0000-4000-8000-000000000000/verify", auditorKey, ""), 404, "")
	expectProblem(t, a.do("GET", "/api/events/verify?limit=0", auditorKey, ""), 400, "limit")
	expectProblem(t, a.do("GET", "/api/events/verify?limit=100001", auditorKey, ""), 400, "limit")
	expectProblem(t, a.do("GET", "/api/events/verify?afterPosition=x", auditorKey, ""), 400, "afterPosition")
	expectProblem(t, a.do("GET", "/api/events/verify", serviceKey, ""), 403, "")
	expectProblem(t, a.do("GET", "/api/tenants/"+first+"/verify", serviceKey, ""), 403, "")

	// Edit the second tenant's rename by hand.
	storetest.ForgeName(t, openPool(t, a.env), 4, "Forged Ltd")
	v := a.do("GET", "/api/tenants/"+second+"/verify", auditorKey, "").json(t)
	b, _ := v["break"].(map[string]any)
	if v["ok"] != false || b == nil || b["position"] != float64(4) || b["version"] != float64(2) || !strings.Contains(b["reason"].(string), "edited") {
		t.Fatalf("tampered tenant: %v", v)
	}
	if v := a.do("GET", "/api/tenants/"+first+"/verify", auditorKey, "").json(t); v["ok"] != true {
		t.Fatalf("the untouched tenant: %v", v)
	}
	f := a.do("GET", "/api/events/verify", auditorKey, "").json(t)
	fb, _ := f["break"].(map[string]any)
	if f["ok"] != false || fb == nil || fb["position"] != float64(4) || fb["streamId"] != "tenant-"+second {
		t.Fatalf("tampered feed: %v", f)
	}
	// A page after the edit, anchored on an intact position, verifies.
	if f := a.do("GET", "/api/events/verify?afterPosition=4", auditorKey, "").json(t); f["ok"] != true || f["checked"] != float64(1) {
		t.Fatalf("page after the edit: %v", f)
	}
}
