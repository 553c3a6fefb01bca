package tenants_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

// TenantAt replays the stream up to a version or a time, and tells apart a
// tenant that did not exist then, a version it never had and an unknown
// tenant.
func TestTenantAt(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.create(t, "acme") // version 1 at Epoch
	if _, err := h.svc.Update(ctx, id, domain.UpdateTenant{Name: new("Acme Renamed")}, asAdmin); err != nil {
		t.Fatal(err) // version 2 at Epoch+1s
	}
	for _, tc := range []struct {
		name    string
		version domain.Version
		asOf    time.Time
		want    string // the name then
	}{
		{"now", 0, time.Time{}, "Acme Renamed"},
		{"version 1", 1, time.Time{}, "acme"},
		{"version 2", 2, time.Time{}, "Acme Renamed"},
		{"between the events", 0, testkit.Epoch.Add(500 * time.Millisecond), "acme"},
		{"at the second event", 0, testkit.Epoch.Add(time.Second), "Acme Renamed"},
	} {
		st, err := h.svc.TenantAt(ctx, id, tc.version, tc.asOf)
		if err != nil || st.Name != tc.want {
			t.Errorf("%s: TenantAt = %q, %v; want %q", tc.name, st.Name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name    string
		id      domain.TenantID
		version domain.Version
		asOf    time.Time
		code    string
		detail  string
	}{
		{"a version it never had", id, 3, time.Time{}, "version-not-found", "latest is 2"},
		{"before it was created", id, 0, testkit.Epoch.Add(-time.Hour), "tenant-not-found-at-time", "2025-12-31T23:00:00Z"},
		{"unknown tenant", domain.NewTenantID(), 0, time.Time{}, "tenant-not-found", ""},
		{"unknown tenant at a time", domain.NewTenantID(), 0, testkit.Epoch, "tenant-not-found-at-time", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.TenantAt(ctx, tc.id, tc.version, tc.asOf)
			if de := wantError(t, err, domain.KindNotFound, tc.code); !strings.Contains(de.Detail, tc.detail) {
				t.Fatalf("detail %q lacks %q", de.Detail, tc.detail)
			}
		})
	}
}

// Events pages through the tenant's stream; an empty page is an unknown
// tenant only when the tenant is unknown.
func TestEvents(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme") // 5 events
	first, err := h.svc.Events(ctx, id, 0, 3, domain.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Events) != 3 || first.Next != 3 {
		t.Fatalf("first page = %d events, next %d; want 3, next 3", len(first.Events), first.Next)
	}
	rest, err := h.svc.Events(ctx, id, domain.Version(first.Next), 3, domain.EventFilter{})
	if err != nil || len(rest.Events) != 2 || rest.Next != 0 || rest.Events[0].Version != 4 || rest.Events[1].Version != 5 {
		t.Fatalf("second page = %q, next %d, %v; want versions 4 and 5 and no more", typesOf(rest.Events), rest.Next, err)
	}
	h.sb.Reset()
	none, err := h.svc.Events(ctx, id, 0, 10, domain.EventFilter{Types: []string{domain.EventTenantDeleted}})
	if err != nil || len(none.Events) != 0 {
		t.Fatalf("a filter matching nothing = %+v, %v; want an empty page", none, err)
	}
	if calls := h.sb.Calls("tenants.Get"); len(calls) != 1 {
		t.Fatalf("an empty page looked the tenant up %d times, want once", len(calls))
	}
	_, err = h.svc.Events(ctx, domain.NewTenantID(), 0, 10, domain.EventFilter{})
	wantError(t, err, domain.KindNotFound, "tenant-not-found")
}

// Feed reads the global feed with its filter, and List the tenants with
// their statuses.
func TestFeedAndList(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	a := h.create(t, "a")
	b := h.create(t, "b")
	if _, err := h.svc.Delete(ctx, b, "", asUser); err != nil {
		t.Fatal(err)
	}
	page, err := h.svc.Feed(ctx, 0, 10, domain.EventFilter{TenantID: b})
	if err != nil || !slices.Equal(typesOf(page.Events), []string{domain.EventTenantCreated, domain.EventTenantDeleted}) || page.Head != 3 {
		t.Fatalf("Feed of b = %q head %d, %v", typesOf(page.Events), page.Head, err)
	}
	page, err = h.svc.Feed(ctx, 0, 10, domain.EventFilter{Actor: asUser.Metadata.Actor})
	if err != nil || len(page.Events) != 1 || page.Events[0].Type != domain.EventTenantDeleted {
		t.Fatalf("Feed by actor = %q, %v", typesOf(page.Events), err)
	}
	live, _, err := h.svc.Tenants(ctx, nil, "", "", 10)
	if err != nil || len(live) != 1 || live[0].TenantID != a {
		t.Fatalf("Tenants = %v, %v; want only a", live, err)
	}
	gone, _, err := h.svc.Tenants(ctx, []domain.Status{domain.StatusDeleted}, "", "", 10)
	if err != nil || len(gone) != 1 || gone[0].TenantID != b {
		t.Fatalf("deleted Tenants = %v, %v; want only b", gone, err)
	}
}

// The lookups answer the live holder's context at the position asked for;
// any id no live tenant holds is the same not found, and a value no tenant
// could hold is answered without asking the resolver.
func TestResolve(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	gone := h.full(t, "gone")
	if _, err := h.svc.Delete(ctx, gone, "", asAdmin); err != nil {
		t.Fatal(err)
	}
	lookups := map[string]func(context.Context, string, domain.Position) (json.RawMessage, error){
		"phone":       h.svc.ResolvePhone,
		"integration": h.svc.ResolveIntegration,
		"tenant": func(ctx context.Context, v string, min domain.Position) (json.RawMessage, error) {
			return h.svc.ResolveTenant(ctx, domain.TenantID(v), min)
		},
	}
	held := map[string]string{"phone": "phone-acme", "integration": "integration-acme", "tenant": string(id)}
	released := map[string]string{"phone": "phone-gone", "integration": "integration-gone", "tenant": string(gone)}
	for name, lookup := range lookups {
		t.Run(name, func(t *testing.T) {
			h.sb.Reset()
			raw, err := lookup(ctx, held[name], 17)
			if err != nil || !strings.Contains(string(raw), string(id)) {
				t.Fatalf("lookup = %s, %v; want the context of %s", raw, err, id)
			}
			if mins := h.resolver.Mins(); mins[len(mins)-1] != 17 {
				t.Fatalf("resolver asked with min %d, want 17", mins[len(mins)-1])
			}
			for _, v := range []string{released[name], "never-issued", domain.NewTenantID().StreamID()} {
				_, err := lookup(ctx, v, 0)
				if de := wantError(t, err, domain.KindNotFound, "tenant-not-found"); de.Detail != "no live tenant holds this id" {
					t.Errorf("lookup of %q: detail %q, want the lookups' own not found", v, de.Detail)
				}
			}
			asked := len(h.sb.Calls("resolver."))
			for _, v := range []string{"", "with space", "a/b", "nul\x00", "\xff\xfe", strings.Repeat("9", 129)} {
				_, err := lookup(ctx, v, 0)
				if de := wantError(t, err, domain.KindNotFound, "tenant-not-found"); de.Detail != "no live tenant holds this id" {
					t.Errorf("lookup of %q: detail %q", v, de.Detail)
				}
			}
			if got := len(h.sb.Calls("resolver.")); got != asked {
				t.Fatalf("values no tenant could hold were looked up: %q", h.sb.Calls("resolver.")[asked:])
			}
		})
	}
}
