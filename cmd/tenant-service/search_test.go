package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// names lists the tenants' names of a list answer, and its nextCursor.
func (a *testApp) names(query string) ([]string, string) {
	a.t.Helper()
	r := a.do("GET", "/api/tenants?"+query, auditorKey, "")
	if r.status != 200 {
		a.t.Fatalf("list %s: %d %s", query, r.status, r.body)
	}
	var page struct {
		Items      []struct{ Name string }
		NextCursor string
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		a.t.Fatal(err)
	}
	var out []string
	for _, it := range page.Items {
		out = append(out, it.Name)
	}
	return out, page.NextCursor
}

// ?q= finds tenants by a part of the name or external reference, in any
// case, literally (no wildcards), with the status filter and paging.
func TestTenantListSearch(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, body := range []string{
		`{"name":"Acme Support","externalRef":"crm-42"}`,
		`{"name":"Globex","externalRef":"ACME-7"}`,
		`{"name":"Initech 100%","externalRef":"crm_9"}`,
		`{"name":"Umbrella"}`,
	} {
		if r := a.do("POST", "/api/tenants", adminKey, body); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	for q, want := range map[string][]string{
		"acme":  {"Acme Support", "Globex"},
		"CRM-":  {"Acme Support"},
		"100%":  {"Initech 100%"},
		"%":     {"Initech 100%"},
		"crm_":  {"Initech 100%"},
		"_":     {"Initech 100%"},
		"nope":  nil,
		" umb ": {"Umbrella"},
	} {
		got, _ := a.names("q=" + url.QueryEscape(q))
		if !slices.Equal(got, want) {
			t.Errorf("q=%q: %v, want %v", q, got, want)
		}
	}
	// Paging keeps the search.
	first, next := a.names("q=acme&limit=1")
	if len(first) != 1 || next == "" {
		t.Fatalf("first page: %v %q", first, next)
	}
	second, last := a.names("q=acme&limit=1&cursor=" + url.QueryEscape(next))
	if !slices.Equal(append(first, second...), []string{"Acme Support", "Globex"}) || last != "" {
		t.Fatalf("pages: %v %v %q", first, second, last)
	}
	// With the status filter.
	id := a.createTenant("Acme Suspended")
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	if got, _ := a.names("q=acme&status=suspended"); !slices.Equal(got, []string{"Acme Suspended"}) {
		t.Fatalf("q with status: %v", got)
	}
	expectProblem(t, a.do("GET", "/api/tenants?q="+strings.Repeat("x", 201), auditorKey, ""), 400, "q")
	expectProblem(t, a.do("GET", "/api/tenants?q=a%00b", auditorKey, ""), 400, "q")
	expectProblem(t, a.do("GET", "/api/tenants?q=%ff", auditorKey, ""), 400, "q")
}
