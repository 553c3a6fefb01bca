package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// The state at each version equals what the API answered right after that
// write, and ?asOf= between two writes gives the earlier state.
func TestTimeTravel(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := a.do("POST", "/api/tenants", adminKey, `{"name":"Traveller"}`)
	id := r.json(t)["tenantId"].(string)
	type snap struct {
		body map[string]any
		at   time.Time
	}
	snaps := []snap{{r.json(t), time.Now()}}
	writes := []struct{ method, path, body string }{
		{"PATCH", "", `{"name":"Traveller 2","settings":{"rateLimit":{"perSecond":3,"burst":6}}}`},
		{"PUT", "/genesys/credentials", credentialsBody("cid", "travel-secret-LLLL5678", "mypurecloud.de")},
		{"POST", "/whatsapp", `{"wabaId":"21","phoneNumberId":"22"}`},
		{"POST", "/suspend", `{"reason":"audit"}`},
		{"PUT", "/genesys/credentials", credentialsBody("cid2", "travel-secret-MMMM9012", "mypurecloud.ie")},
		{"POST", "/reactivate", ""},
		{"DELETE", "/whatsapp/22", ""},
		{"PATCH", "", `{"externalRef":"crm-7"}`},
	}
	for _, w := range writes {
		time.Sleep(15 * time.Millisecond) // distinct times for asOf
		r := a.do(w.method, "/api/tenants/"+id+w.path, adminKey, w.body)
		if r.status >= 300 {
			t.Fatalf("%s %s: %d %s", w.method, w.path, r.status, r.body)
		}
		after := a.do("GET", "/api/tenants/"+id, adminKey, "")
		snaps = append(snaps, snap{after.json(t), time.Now()})
		time.Sleep(15 * time.Millisecond)
	}
	for i, s := range snaps {
		version := i + 1
		r := a.do("GET", fmt.Sprintf("/api/tenants/%s?version=%d", id, version), auditorKey, "")
		if r.status != 200 || r.header.Get("ETag") != fmt.Sprintf(`"%d"`, version) {
			t.Fatalf("version %d: %d %s", version, r.status, r.body)
		}
		if got := r.json(t); !reflect.DeepEqual(got, s.body) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(s.body)
			t.Fatalf("version %d:\n got %s\nwant %s", version, gj, wj)
		}
		// asOf just after this write (before the next one) gives this state.
		asOf := s.at.UTC().Format(time.RFC3339Nano)
		r = a.do("GET", "/api/tenants/"+id+"?asOf="+asOf, auditorKey, "")
		if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, s.body) {
			t.Fatalf("asOf after version %d: %d %s", version, r.status, r.body)
		}
	}
	// A filter that matches nothing is an empty page, not a 404.
	r = a.do("GET", "/api/tenants/"+id+"/events?type=WhatsAppAccountUpdated", auditorKey, "")
	if items, _ := r.json(t)["items"].([]any); r.status != 200 || len(items) != 0 {
		t.Fatalf("empty filter: %d %s", r.status, r.body)
	}
	expectProblem(t, a.do("GET", "/api/tenants/00000000-0000-4000-8000-00000000000f/events", auditorKey, ""), 404, "")
	// Filters over history: by type, actor and time range.
	r = a.do("GET", "/api/tenants/"+id+"/events?type=GenesysCredentialsSet,CredentialsRotated", auditorKey, "")
	if items := r.json(t)["items"].([]any); len(items) != 2 {
		t.Fatalf("credential history: %s", r.body)
	}
	first := r.json(t)["items"].([]any)[0].(map[string]any)
	actor := first["metadata"].(map[string]any)["actor"].(string)
	r = a.do("GET", "/api/events?actor="+actor+"&tenantId="+id, auditorKey, "")
	if items := r.json(t)["items"].([]any); len(items) != len(snaps) {
		t.Fatalf("by actor: %d items", len(items))
	}
	from := snaps[3].at.UTC().Format(time.RFC3339Nano)
	to := snaps[6].at.UTC().Format(time.RFC3339Nano)
	r = a.do("GET", "/api/events?tenantId="+id+"&from="+from+"&to="+to, auditorKey, "")
	if items := r.json(t)["items"].([]any); len(items) != 3 {
		t.Fatalf("time range: %s", r.body)
	}
}
