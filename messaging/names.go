package messaging

import (
	"strings"
	"unicode"

	"tenant-service/domain"
)

// Broker names. Persisted in RabbitMQ and in the bindings of every consuming
// service: renaming one silently disconnects all subscribers.
const (
	// DefaultExchange is the durable topic exchange every tenant event is
	// published on.
	DefaultExchange = "tenant.events"
	// RoutingKeyPrefix starts every routing key: "tenant." + snake_case type.
	RoutingKeyPrefix = "tenant."
	// AllEvents is the binding key that matches every tenant event.
	AllEvents = RoutingKeyPrefix + "#"
)

// Message header names. Persisted in the contract with consuming services:
// renaming one breaks their filters and logs.
const (
	HeaderEventType      = "event_type"
	HeaderTenantID       = "tenant_id"
	HeaderStreamID       = "stream_id"
	HeaderStreamVersion  = "stream_version"
	HeaderGlobalPosition = "global_position"
	HeaderSchemaVersion  = "schema_version"
	HeaderTraceParent    = "traceparent"
)

// ContentType is the content type of every message body.
const ContentType = "application/json"

// routingKeys maps each event wire name to its routing key, exactly as
// PRODUCT.md lists them. Persisted in every subscriber's bindings: changing
// an entry reroutes (and for existing bindings, loses) that event type.
var routingKeys = map[string]string{
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

// RoutingKey returns the routing key an event type is published with:
// "tenant." followed by the type in snake case ("WABALinked" →
// "tenant.waba_linked", "WhatsAppTokenStored" → "tenant.whatsapp_token_stored").
// Types missing from the fixed table (a test keeps the table complete) are
// converted by rule, so a new event type is still published.
func RoutingKey(eventType string) string {
	if key, ok := routingKeys[eventType]; ok {
		return key
	}
	return RoutingKeyPrefix + snakeCase(eventType)
}

// snakeCase turns a Go-style name into snake case, keeping acronyms whole
// ("WABALinked" → "waba_linked") and treating "WhatsApp" as one word.
func snakeCase(name string) string {
	name = strings.ReplaceAll(name, "WhatsApp", "Whatsapp")
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			acronymEnd := unicode.IsUpper(r[i-1]) && i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || acronymEnd {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
