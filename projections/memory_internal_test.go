package projections

import (
	"slices"
	"testing"
	"time"

	"tenant-service/client/tenantcache"
	"tenant-service/domain"
)

// Every event type drops its tenant's answers, and those of the phone
// number or integration id it names: a number linked after a "not found"
// was kept, unlinked, or updated by Meta; an integration id linked (the
// one it replaces belongs to the tenant, whose answers go anyway).
func TestChangeOfEveryEventType(t *testing.T) {
	t.Parallel()
	phone := func(id string) tenantcache.Key { return tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: id} }
	integration := func(id string) tenantcache.Key { return tenantcache.Key{Kind: tenantcache.KindIntegration, ID: id} }
	name, ref := "Acme 2", "crm-2"
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		event domain.Event
		keys  []tenantcache.Key
	}{
		{domain.TenantCreated{TenantID: "t", Name: "Acme"}, nil},
		{domain.TenantUpdated{Name: &name, ExternalRef: &ref}, nil},
		{domain.TenantSuspended{Reason: "unpaid"}, nil},
		{domain.TenantReactivated{}, nil},
		{domain.TenantDeleted{Reason: "closed"}, nil},
		{domain.GenesysCredentialsSet{ClientID: "c", Region: "mypurecloud.com", ClientSecret: domain.SecretRef{Ciphertext: "x", Hint: "****"}}, nil},
		{domain.CredentialsRotated{ClientID: "c2", Region: "mypurecloud.de", ClientSecret: domain.SecretRef{Ciphertext: "y", Hint: "****"}}, nil},
		{domain.GenesysIntegrationLinked{IntegrationID: "int-1", WebhookSecret: &domain.SecretRef{Ciphertext: "z"}}, []tenantcache.Key{integration("int-1")}},
		{domain.WABALinked{WABAID: "w1", PhoneNumberID: "p1", Source: "manual"}, []tenantcache.Key{phone("p1")}},
		{domain.WABAUnlinked{WABAID: "w1", PhoneNumberID: "p2"}, []tenantcache.Key{phone("p2")}},
		{domain.WhatsAppTokenStored{Token: domain.SecretRef{Ciphertext: "t"}, ExpiresAt: &expires, Source: "manual"}, nil},
		{domain.WhatsAppAccountUpdated{WABAID: "w1", PhoneNumberID: "p3", Field: "phone_number_quality_update"}, []tenantcache.Key{phone("p3")}},
		{domain.WhatsAppAccountUpdated{WABAID: "w1", Field: "account_update"}, nil}, // the whole WABA: the tenant's answers
	}
	covered := map[string]bool{}
	for i, c := range cases {
		typ, schema, data, err := domain.EncodeEvent(c.event)
		if err != nil {
			t.Fatal(err)
		}
		covered[typ] = true
		e := domain.StoredEvent{TenantID: "tenant-a", Type: typ, SchemaVersion: schema, Data: data,
			Version: domain.Version(i + 1), Position: domain.Position(100 + i)}
		ch, err := changeOf(e)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := tenantcache.Change{TenantID: "tenant-a", Version: int64(i + 1), Position: int64(100 + i), Keys: c.keys}
		if ch.TenantID != want.TenantID || ch.Version != want.Version || ch.Position != want.Position || !slices.Equal(ch.Keys, want.Keys) {
			t.Errorf("%s: change = %+v, want %+v", typ, ch, want)
		}
	}
	for _, typ := range domain.EventTypes() {
		if !covered[typ] {
			t.Errorf("event type %s has no case: say which keys it names", typ)
		}
	}

	// A type this build does not know (a newer replica wrote it) still
	// names its keys the same way.
	ch, err := changeOf(domain.StoredEvent{TenantID: "tenant-a", Type: "PhoneNumberMoved", Version: 9, Position: 200,
		Data: []byte(`{"phoneNumberId":"p4","integrationId":"int-4","other":1}`)})
	if err != nil || !slices.Equal(ch.Keys, []tenantcache.Key{phone("p4"), integration("int-4")}) {
		t.Errorf("unknown type: %+v, %v", ch, err)
	}
	// Data that cannot be read is an error: the keys it names are unknown.
	if _, err := changeOf(domain.StoredEvent{TenantID: "tenant-a", Type: domain.EventWABALinked, Data: []byte(`{"phoneNumberId":`)}); err == nil {
		t.Error("unreadable data: no error")
	}
}
