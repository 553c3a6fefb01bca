package messaging

import (
	"testing"

	"tenant-service/domain"
)

// The routing keys exactly as PRODUCT.md ("Messaging") lists them.
var productRoutingKeys = map[string]string{
	domain.EventTenantCreated:            "tenant.tenant_created",
	domain.EventTenantUpdated:            "tenant.tenant_updated",
	domain.EventTenantSuspended:          "tenant.tenant_suspended",
	domain.EventTenantReactivated:        "tenant.tenant_reactivated",
	domain.EventTenantDeleted:            "tenant.tenant_deleted",
	domain.EventGenesysCredentialsSet:    "tenant.genesys_credentials_set",
	domain.EventCredentialsRotated:       "tenant.credentials_rotated",
	domain.EventGenesysIntegrationLinked: "tenant.genesys_integration_linked",
	domain.EventWABALinked:               "tenant.waba_linked",
	domain.EventWABAUnlinked:             "tenant.waba_unlinked",
	domain.EventWhatsAppTokenStored:      "tenant.whatsapp_token_stored",
	domain.EventWhatsAppAccountUpdated:   "tenant.whatsapp_account_updated",
}

func TestRoutingKeyCoversEveryEventType(t *testing.T) {
	types := domain.EventTypes()
	if len(types) != len(productRoutingKeys) {
		t.Errorf("domain has %d event types, PRODUCT.md lists %d routing keys", len(types), len(productRoutingKeys))
	}
	keys := map[string]string{}
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			want, ok := productRoutingKeys[typ]
			if !ok {
				t.Fatalf("event type %s has no routing key in PRODUCT.md", typ)
			}
			if got := RoutingKey(typ); got != want {
				t.Errorf("RoutingKey(%s) = %q, want %q", typ, got, want)
			}
			if _, fixed := routingKeys[typ]; !fixed {
				t.Errorf("%s is missing from the fixed routing key table", typ)
			}
			// The rule must agree with the table, so a type added later
			// gets the key PRODUCT.md's convention gives it.
			if got := RoutingKeyPrefix + snakeCase(typ); got != want {
				t.Errorf("snake case rule gives %q for %s, want %q", got, typ, want)
			}
		})
		if other, dup := keys[RoutingKey(typ)]; dup {
			t.Errorf("%s and %s share routing key %s", typ, other, RoutingKey(typ))
		}
		keys[RoutingKey(typ)] = typ
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"TenantCreated":         "tenant_created",
		"WABALinked":            "waba_linked",
		"WhatsAppTokenStored":   "whatsapp_token_stored",
		"PhoneNumberRegistered": "phone_number_registered",
		"APIKeyIssued":          "api_key_issued",
		"Tenant2FAEnabled":      "tenant2_fa_enabled",
		"lower":                 "lower",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
