package client_test

import (
	"errors"
	"testing"
	"time"

	"tenant-service/client"
	"tenant-service/client/internal/servicetest"
)

// within is how long a change may take to show in a client in these tests:
// generous, as the contract's 100 ms p99 is measured by a benchmark.
const within = 5 * time.Second

func TestLookupsFollowUpdatesLinksAndDeletes(t *testing.T) {
	svc := servicetest.Start(t)
	c := newClient(t, svc)
	acme := svc.CreateTenant("Acme")

	tc, err := c.ByTenant(bg(), acme.TenantID)
	if err != nil || tc.Name != "Acme" || tc.Version != 1 || tc.Status != client.StatusActive || tc.WhatsApp != nil {
		t.Fatalf("ByTenant = %+v, %v", tc, err)
	}

	// Unknown ids are cached as negative entries: the second lookup is a hit.
	const phone, integration = "5511900000001", "3b9c0a1e-integration"
	eventually(t, within, notFound(c.ByPhoneNumber, phone))
	eventually(t, within, notFound(c.ByIntegration, integration))
	before := c.Stats()
	if err := notFound(c.ByPhoneNumber, phone)(); err != nil {
		t.Fatal(err)
	}
	if after := c.Stats(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
		t.Fatalf("a cached 'not found' touched the service: before %+v, after %+v", before, after)
	}

	// Linking makes them known.
	svc.LinkNumber(acme.TenantID, "waba-1", phone)
	eventually(t, within, resolvesTo(c.ByPhoneNumber, phone, acme.TenantID, "Acme"))
	tc, _ = c.ByPhoneNumber(bg(), phone)
	if tc.WhatsApp == nil || tc.WhatsApp.PhoneNumberID != phone || tc.WhatsApp.WabaID != "waba-1" {
		t.Fatalf("whatsapp block = %+v", tc.WhatsApp)
	}
	svc.SetIntegration(acme.TenantID, integration)
	eventually(t, within, resolvesTo(c.ByIntegration, integration, acme.TenantID, "Acme"))

	// An update shows through every key.
	svc.Rename(acme.TenantID, "Acme Corp")
	for _, k := range []struct {
		look lookup
		id   string
	}{{c.ByTenant, acme.TenantID}, {c.ByPhoneNumber, phone}, {c.ByIntegration, integration}} {
		eventually(t, within, resolvesTo(k.look, k.id, acme.TenantID, "Acme Corp"))
	}

	// A deleted tenant and the ids it held are not found.
	svc.Delete(acme.TenantID)
	eventually(t, within, notFound(c.ByTenant, acme.TenantID))
	eventually(t, within, notFound(c.ByPhoneNumber, phone))
	eventually(t, within, notFound(c.ByIntegration, integration))

	s := c.Stats()
	if s.Invalidations == 0 || s.State != client.StateConnected || !s.ServiceAvailable {
		t.Fatalf("stats = %+v", s)
	}
}

func TestAMovedNumberResolvesToItsNewTenant(t *testing.T) {
	svc := servicetest.Start(t)
	c := newClient(t, svc)
	a, b := svc.CreateTenant("A"), svc.CreateTenant("B")
	const phone = "5511900000002"
	svc.LinkNumber(a.TenantID, "waba-a", phone)
	eventually(t, within, resolvesTo(c.ByPhoneNumber, phone, a.TenantID, ""))

	svc.UnlinkNumber(a.TenantID, phone)
	svc.LinkNumber(b.TenantID, "waba-b", phone)
	eventually(t, within, resolvesTo(c.ByPhoneNumber, phone, b.TenantID, "B"))
	tc, _ := c.ByPhoneNumber(bg(), phone)
	if tc.WhatsApp == nil || tc.WhatsApp.WabaID != "waba-b" {
		t.Fatalf("whatsapp block = %+v", tc.WhatsApp)
	}
	// And A no longer has it (its WABA stays, without the number).
	tc, err := c.ByTenant(bg(), a.TenantID)
	if err != nil || (tc.WhatsApp != nil && tc.WhatsApp.PhoneNumberID == phone) {
		t.Fatalf("A = %+v (whatsapp %+v), %v", tc, tc.WhatsApp, err)
	}
}

func TestUnknownAndMalformedIDsAreNotFound(t *testing.T) {
	svc := servicetest.Start(t)
	c := newClient(t, svc)
	for _, id := range []string{"", "not-a-uuid", "9f1c0000-0000-4000-8000-000000000000", string(make([]byte, 200))} {
		if _, err := c.ByTenant(bg(), id); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("ByTenant(%q): %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"a/b", "%00", "ünïcode", "with space"} {
		if _, err := c.ByPhoneNumber(bg(), id); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("ByPhoneNumber(%q): %v, want ErrNotFound", id, err)
		}
	}
}
