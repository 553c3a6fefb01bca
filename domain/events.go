package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event wire names. Persisted and published (routing keys derive from them):
// renaming one breaks every stored stream and every subscriber.
const (
	EventTenantCreated            = "TenantCreated"
	EventTenantUpdated            = "TenantUpdated"
	EventTenantSuspended          = "TenantSuspended"
	EventTenantReactivated        = "TenantReactivated"
	EventTenantDeleted            = "TenantDeleted"
	EventGenesysCredentialsSet    = "GenesysCredentialsSet"
	EventCredentialsRotated       = "CredentialsRotated"
	EventGenesysIntegrationLinked = "GenesysIntegrationLinked"
	EventWABALinked               = "WABALinked"
	EventWABAUnlinked             = "WABAUnlinked"
	EventWhatsAppTokenStored      = "WhatsAppTokenStored"
	EventWhatsAppAccountUpdated   = "WhatsAppAccountUpdated"
)

// Event is a fact recorded on a tenant stream.
type Event interface {
	// EventType returns the fixed wire name.
	EventType() string
}

// SecretRef is a secret as it may appear in an event: envelope ciphertext
// (self-describing, bound to tenant and field) and a display hint.
type SecretRef struct {
	Ciphertext string `json:"ciphertext"`
	Hint       string `json:"hint"` // "****" + last 4, or "****" for short secrets
}

// TenantCreated records a new tenant.
type TenantCreated struct {
	TenantID    TenantID `json:"tenantId"`
	Name        string   `json:"name"`
	ExternalRef string   `json:"externalRef,omitempty"`
	Settings    Settings `json:"settings"`
}

// TenantUpdated records changed name, external reference or settings; absent
// fields are unchanged.
type TenantUpdated struct {
	Name        *string   `json:"name,omitempty"`
	ExternalRef *string   `json:"externalRef,omitempty"`
	Settings    *Settings `json:"settings,omitempty"`
}

// TenantSuspended records a suspension.
type TenantSuspended struct {
	Reason string `json:"reason,omitempty"`
}

// TenantReactivated records the end of a suspension.
type TenantReactivated struct {
	Reason string `json:"reason,omitempty"`
}

// TenantDeleted records a deletion; the tenant's data key is destroyed with it.
type TenantDeleted struct {
	Reason string `json:"reason,omitempty"`
}

// GenesysCredentialsSet records the first Genesys OAuth client.
type GenesysCredentialsSet struct {
	ClientID     string    `json:"clientId"`
	Region       string    `json:"region"`
	ClientSecret SecretRef `json:"clientSecret"`
}

// CredentialsRotated records replaced Genesys credentials.
type CredentialsRotated struct {
	ClientID     string    `json:"clientId"`
	Region       string    `json:"region"`
	ClientSecret SecretRef `json:"clientSecret"`
}

// GenesysIntegrationLinked records the Open Messaging integration.
type GenesysIntegrationLinked struct {
	IntegrationID string     `json:"integrationId"`
	WebhookSecret *SecretRef `json:"webhookSecret,omitempty"`
}

// WABALinked records a WhatsApp Business Account phone number linked to the tenant.
type WABALinked struct {
	WABAID             string `json:"wabaId"`
	PhoneNumberID      string `json:"phoneNumberId"`
	DisplayPhoneNumber string `json:"displayPhoneNumber,omitempty"`
	VerifiedName       string `json:"verifiedName,omitempty"`
	BusinessID         string `json:"businessId,omitempty"`
	Source             string `json:"source"` // "manual" or "embedded_signup"
}

// WABAUnlinked records a phone number unlinked from the tenant.
type WABAUnlinked struct {
	WABAID        string `json:"wabaId"`
	PhoneNumberID string `json:"phoneNumberId"`
}

// WhatsAppTokenStored records a new (encrypted) WhatsApp access token.
type WhatsAppTokenStored struct {
	Token     SecretRef  `json:"token"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"` // nil: never expires
	Source    string     `json:"source"`
}

// WhatsAppAccountUpdated records a change Meta reported by a signed webhook.
type WhatsAppAccountUpdated struct {
	WABAID        string `json:"wabaId"`
	PhoneNumberID string `json:"phoneNumberId,omitempty"`
	Field         string `json:"field"`           // webhook field, e.g. "account_update"
	Event         string `json:"event,omitempty"` // e.g. "VERIFIED_ACCOUNT", "DISABLED_UPDATE"
	QualityRating string `json:"qualityRating,omitempty"`
	Status        string `json:"status,omitempty"`
	BanState      string `json:"banState,omitempty"`
	DisplayName   string `json:"displayName,omitempty"`
}

// EventType implementations: the wire name is a constant, never reflection.
func (TenantCreated) EventType() string            { return EventTenantCreated }
func (TenantUpdated) EventType() string            { return EventTenantUpdated }
func (TenantSuspended) EventType() string          { return EventTenantSuspended }
func (TenantReactivated) EventType() string        { return EventTenantReactivated }
func (TenantDeleted) EventType() string            { return EventTenantDeleted }
func (GenesysCredentialsSet) EventType() string    { return EventGenesysCredentialsSet }
func (CredentialsRotated) EventType() string       { return EventCredentialsRotated }
func (GenesysIntegrationLinked) EventType() string { return EventGenesysIntegrationLinked }
func (WABALinked) EventType() string               { return EventWABALinked }
func (WABAUnlinked) EventType() string             { return EventWABAUnlinked }
func (WhatsAppTokenStored) EventType() string      { return EventWhatsAppTokenStored }
func (WhatsAppAccountUpdated) EventType() string   { return EventWhatsAppAccountUpdated }

// eventType describes how one wire name is decoded.
type eventType struct {
	schema    int // current schema version written for new events
	decode    func([]byte) (Event, error)
	upcasters map[int]func(map[string]any) // from version v to v+1
}

func decoder[E Event]() func([]byte) (Event, error) {
	return func(b []byte) (Event, error) {
		var e E
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, err
		}
		return e, nil
	}
}

var eventTypes = map[string]eventType{
	EventTenantCreated: {schema: 2, decode: decoder[TenantCreated](), upcasters: map[int]func(map[string]any){
		// Schema 1 of TenantCreated called the name "displayName"; schema 2 says "name".
		1: func(m map[string]any) { renameField(m, "displayName", "name") },
	}},
	EventTenantUpdated:            {schema: 1, decode: decoder[TenantUpdated]()},
	EventTenantSuspended:          {schema: 1, decode: decoder[TenantSuspended]()},
	EventTenantReactivated:        {schema: 1, decode: decoder[TenantReactivated]()},
	EventTenantDeleted:            {schema: 1, decode: decoder[TenantDeleted]()},
	EventGenesysCredentialsSet:    {schema: 1, decode: decoder[GenesysCredentialsSet]()},
	EventCredentialsRotated:       {schema: 1, decode: decoder[CredentialsRotated]()},
	EventGenesysIntegrationLinked: {schema: 1, decode: decoder[GenesysIntegrationLinked]()},
	EventWABALinked:               {schema: 1, decode: decoder[WABALinked]()},
	EventWABAUnlinked:             {schema: 1, decode: decoder[WABAUnlinked]()},
	EventWhatsAppTokenStored:      {schema: 1, decode: decoder[WhatsAppTokenStored]()},
	EventWhatsAppAccountUpdated:   {schema: 1, decode: decoder[WhatsAppAccountUpdated]()},
}

func renameField(m map[string]any, from, to string) {
	if v, ok := m[from]; ok {
		if _, exists := m[to]; !exists {
			m[to] = v
		}
		delete(m, from)
	}
}

// EventTypes returns every known wire name.
func EventTypes() []string {
	out := make([]string, 0, len(eventTypes))
	for name := range eventTypes {
		out = append(out, name)
	}
	return out
}

// KnownEventType reports whether name is a wire name of this domain.
func KnownEventType(name string) bool {
	_, ok := eventTypes[name]
	return ok
}

// SchemaVersion returns the schema version new events of this type are written with.
func SchemaVersion(eventType string) int {
	return eventTypes[eventType].schema
}

// EncodeEvent returns the event's wire name, schema version and JSON data.
func EncodeEvent(e Event) (name string, schema int, data []byte, err error) {
	name = e.EventType()
	t, ok := eventTypes[name]
	if !ok {
		return "", 0, nil, fmt.Errorf("encode event: unknown type %q", name)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return name, t.schema, data, nil
}

// DecodeEvent turns stored data of the given type and schema version into an
// Event, upcasting older schema versions step by step first.
func DecodeEvent(name string, schema int, data []byte) (Event, error) {
	t, ok := eventTypes[name]
	if !ok {
		return nil, fmt.Errorf("decode event: unknown type %q", name)
	}
	if schema < t.schema {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("decode %s v%d: %w", name, schema, err)
		}
		for v := schema; v < t.schema; v++ {
			if up, ok := t.upcasters[v]; ok {
				up(m)
			}
		}
		var err error
		if data, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("upcast %s v%d: %w", name, schema, err)
		}
	} else if schema > t.schema {
		return nil, fmt.Errorf("decode %s: schema version %d is newer than this build knows (%d)", name, schema, t.schema)
	}
	e, err := t.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", name, schema, err)
	}
	return e, nil
}
