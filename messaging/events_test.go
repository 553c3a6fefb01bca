package messaging

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"tenant-service/domain"
)

// secret returns a SecretRef as the domain stores it: ciphertext and hint.
func secret(plain string) domain.SecretRef {
	return domain.SecretRef{Ciphertext: "v1:kek-1:" + uuid.NewString() + ":" + plain, Hint: domain.SecretHint(plain)}
}

// sampleEvent returns a realistic event of the type; it fails the test for
// a type the domain added without a sample here.
func sampleEvent(t testing.TB, eventType string) domain.Event {
	t.Helper()
	name := "Acme " + uuid.NewString()[:8]
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	switch eventType {
	case domain.EventTenantCreated:
		return domain.TenantCreated{TenantID: domain.NewTenantID(), Name: name, ExternalRef: "crm-42"}
	case domain.EventTenantUpdated:
		return domain.TenantUpdated{Name: &name}
	case domain.EventTenantSuspended:
		return domain.TenantSuspended{Reason: "unpaid"}
	case domain.EventTenantReactivated:
		return domain.TenantReactivated{Reason: "paid"}
	case domain.EventTenantDeleted:
		return domain.TenantDeleted{Reason: "churned"}
	case domain.EventGenesysCredentialsSet:
		return domain.GenesysCredentialsSet{ClientID: "client-1", Region: "mypurecloud.com", ClientSecret: secret("genesys-secret-0001")}
	case domain.EventCredentialsRotated:
		return domain.CredentialsRotated{ClientID: "client-2", Region: "mypurecloud.de", ClientSecret: secret("genesys-secret-0002")}
	case domain.EventGenesysIntegrationLinked:
		ws := secret("webhook-secret-0003")
		return domain.GenesysIntegrationLinked{IntegrationID: uuid.NewString(), WebhookSecret: &ws}
	case domain.EventWABALinked:
		return domain.WABALinked{WABAID: "1020304050", PhoneNumberID: "5550001", DisplayPhoneNumber: "+1 555 0001", Source: "manual"}
	case domain.EventWABAUnlinked:
		return domain.WABAUnlinked{WABAID: "1020304050", PhoneNumberID: "5550001"}
	case domain.EventWhatsAppTokenStored:
		return domain.WhatsAppTokenStored{Token: secret("EAAG-whatsapp-token-0004"), ExpiresAt: &expires, Source: "embedded_signup"}
	case domain.EventWhatsAppAccountUpdated:
		return domain.WhatsAppAccountUpdated{WABAID: "1020304050", Field: "account_update", Event: "VERIFIED_ACCOUNT"}
	}
	t.Fatalf("no sample for event type %q: add one to sampleEvent", eventType)
	return nil
}

// stored returns the event as the store would hand it to the relay.
func stored(t testing.TB, tenant domain.TenantID, version domain.Version, position domain.Position, ev domain.Event) domain.StoredEvent {
	t.Helper()
	name, schema, data, err := domain.EncodeEvent(ev)
	if err != nil {
		t.Fatalf("encode %T: %v", ev, err)
	}
	return domain.StoredEvent{
		EventID: uuid.NewString(), StreamID: tenant.StreamID(), TenantID: tenant, Type: name,
		Version: version, Position: position, OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
		SchemaVersion: schema, Data: data,
		Metadata: domain.Metadata{Actor: "admin:3f9a1c2b", RequestID: uuid.NewString(), CorrelationID: uuid.NewString()},
		Hash:     "ab12", ChainHash: "cd34",
	}
}

// interleaved returns perTenant events for each of tenants tenants, in a
// global order that mixes tenants (round robin) and keeps each tenant's
// versions ascending; positions continue after from.
func interleaved(t testing.TB, tenants, perTenant int, from domain.Position) []domain.StoredEvent {
	t.Helper()
	ids := make([]domain.TenantID, tenants)
	for i := range ids {
		ids[i] = domain.NewTenantID()
	}
	types := domain.EventTypes()
	events := make([]domain.StoredEvent, 0, tenants*perTenant)
	for v := 1; v <= perTenant; v++ {
		for i, id := range ids {
			ev := sampleEvent(t, types[(i+v)%len(types)])
			events = append(events, stored(t, id, domain.Version(v), from+domain.Position(len(events)+1), ev))
		}
	}
	return events
}
