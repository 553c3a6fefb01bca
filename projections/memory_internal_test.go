package projections

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
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

// BenchmarkMemoryFootprint reports the heap a kept lookup costs: N tenants
// with three phone numbers and an integration each, every key kept (five
// entries a tenant), each context JSON allocated on its own as the Resolver
// answers it. bytes/entry includes the JSON (json-bytes/entry).
//
//	go test -run '^$' -bench MemoryFootprint ./projections/
func BenchmarkMemoryFootprint(b *testing.B) {
	const tenants = 4000
	for b.Loop() {
		cache, err := tenantcache.New[memoryValue](tenantcache.Config{MaxEntries: 10 * tenants})
		if err != nil {
			b.Fatal(err)
		}
		states := make([]domain.State, tenants)
		for i := range states {
			states[i] = footprintState(i)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var jsonBytes int
		for _, st := range states {
			keys := []tenantcache.Key{{Kind: tenantcache.KindTenant, ID: string(st.TenantID)},
				{Kind: tenantcache.KindIntegration, ID: st.Genesys.IntegrationID}}
			for _, p := range st.WhatsApp.PhoneNumbers {
				keys = append(keys, tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: p.PhoneNumberID})
			}
			for _, k := range keys {
				phone := ""
				if k.Kind == tenantcache.KindPhoneNumber {
					phone = k.ID
				}
				raw, _ := json.Marshal(ContextFromState(st, phone))
				jsonBytes += len(raw)
				a, _ := answerOf(raw, nil)
				t := cache.Ticket()
				if cache.Put(t, tenantcache.Key{Kind: k.Kind, ID: strings.Clone(k.ID)}, a) != tenantcache.Stored {
					b.Fatal("not stored")
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		n := cache.Len()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/entry")
		b.ReportMetric(float64(jsonBytes)/float64(n), "json-bytes/entry")
		runtime.KeepAlive(cache)
		runtime.KeepAlive(states)
	}
}

// footprintState is a tenant as a typical deployment holds it: three
// numbers of one WABA with display numbers, Genesys credentials and an
// integration, a rate limit.
func footprintState(i int) domain.State {
	st := domain.State{TenantID: domain.NewTenantID(), Name: fmt.Sprintf("Customer %d Ltd", i), ExternalRef: fmt.Sprintf("crm-%d", i),
		Status: domain.StatusActive, Version: 7, UpdatedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Settings: domain.Settings{RateLimit: &domain.RateLimit{PerSecond: 20, Burst: 40}},
		Genesys:  &domain.GenesysConfig{ClientID: "8c1f2a9e-3b4d-4e5f-9a0b-1c2d3e4f5a6b", Region: "mypurecloud.de", IntegrationID: fmt.Sprintf("f0e1d2c3-b4a5-4968-8776-%012d", i)},
		WhatsApp: &domain.WhatsAppConfig{WABAID: strconv.Itoa(100000000000000 + i)}}
	for n := range 3 {
		id := strconv.Itoa(200000000000000 + 10*i + n)
		st.WhatsApp.PhoneNumbers = append(st.WhatsApp.PhoneNumbers, domain.PhoneNumber{PhoneNumberID: id, WABAID: st.WhatsApp.WABAID,
			DisplayPhoneNumber: fmt.Sprintf("+44 20 7946 %04d", n), VerifiedName: st.Name, QualityRating: "GREEN"})
	}
	return st
}
