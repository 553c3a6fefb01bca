package domain

import (
	"fmt"
	"slices"
	"time"
)

// Status is a tenant's lifecycle state.
type Status string

// The tenant statuses.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusDeleted   Status = "deleted"
)

// ParseStatus accepts one of the three statuses.
func ParseStatus(s string) (Status, bool) {
	switch Status(s) {
	case StatusActive, StatusSuspended, StatusDeleted:
		return Status(s), true
	}
	return "", false
}

// RateLimit is a token-bucket limit for the tenant's traffic.
type RateLimit struct {
	PerSecond int `json:"perSecond"`
	Burst     int `json:"burst"`
}

// Settings are the tenant's tunables.
type Settings struct {
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// GenesysConfig is how the tenant reaches Genesys Cloud. Secrets are ciphertext.
type GenesysConfig struct {
	ClientID             string     `json:"clientId,omitempty"`
	Region               string     `json:"region,omitempty"`
	ClientSecret         *SecretRef `json:"clientSecret,omitempty"`
	CredentialsUpdatedAt *time.Time `json:"credentialsUpdatedAt,omitempty"`
	IntegrationID        string     `json:"integrationId,omitempty"`
	WebhookSecret        *SecretRef `json:"webhookSecret,omitempty"`
}

// PhoneNumber is one WhatsApp number linked to the tenant.
type PhoneNumber struct {
	PhoneNumberID      string    `json:"phoneNumberId"`
	WABAID             string    `json:"wabaId"`
	DisplayPhoneNumber string    `json:"displayPhoneNumber,omitempty"`
	VerifiedName       string    `json:"verifiedName,omitempty"`
	QualityRating      string    `json:"qualityRating,omitempty"`
	Status             string    `json:"status,omitempty"`
	LinkedAt           time.Time `json:"linkedAt"`
}

// WhatsAppToken is the stored (encrypted) WhatsApp access token.
type WhatsAppToken struct {
	Token     SecretRef  `json:"token"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	StoredAt  time.Time  `json:"storedAt"`
	Source    string     `json:"source,omitempty"`
}

// WhatsAppConfig is how the tenant reaches WhatsApp Cloud.
type WhatsAppConfig struct {
	WABAID       string         `json:"wabaId,omitempty"`
	BusinessID   string         `json:"businessId,omitempty"`
	PhoneNumbers []PhoneNumber  `json:"phoneNumbers"`
	Token        *WhatsAppToken `json:"token,omitempty"`
	AccountName  string         `json:"accountName,omitempty"`
	BanState     string         `json:"banState,omitempty"`
	LastEvent    string         `json:"lastEvent,omitempty"`
}

// Phone returns the linked number with the given id.
func (w *WhatsAppConfig) Phone(id string) (PhoneNumber, bool) {
	if w == nil {
		return PhoneNumber{}, false
	}
	for _, p := range w.PhoneNumbers {
		if p.PhoneNumberID == id {
			return p, true
		}
	}
	return PhoneNumber{}, false
}

// SnapshotFormat versions the JSON form of State kept in snapshots. Bump it
// whenever Apply or an upcaster changes what events fold to: snapshots of
// another format are then ignored and rebuilt.
const SnapshotFormat = 1

// State is everything known about a tenant, rebuilt by applying its events in
// order. It is what the read models store and what time travel returns.
type State struct {
	TenantID    TenantID        `json:"tenantId"`
	Name        string          `json:"name"`
	ExternalRef string          `json:"externalRef,omitempty"`
	Status      Status          `json:"status"`
	Version     Version         `json:"version"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	DeletedAt   *time.Time      `json:"deletedAt,omitempty"`
	Settings    Settings        `json:"settings"`
	Genesys     *GenesysConfig  `json:"genesys,omitempty"`
	WhatsApp    *WhatsAppConfig `json:"whatsapp,omitempty"`
}

// Exists reports whether the tenant has been created.
func (s *State) Exists() bool { return s.Version > 0 }

// PhoneNumberIDs returns the ids of every linked phone number (none once deleted).
func (s *State) PhoneNumberIDs() []string {
	if s.WhatsApp == nil || s.Status == StatusDeleted {
		return nil
	}
	ids := make([]string, 0, len(s.WhatsApp.PhoneNumbers))
	for _, p := range s.WhatsApp.PhoneNumbers {
		ids = append(ids, p.PhoneNumberID)
	}
	return ids
}

// IntegrationID returns the live Genesys integration id, or "".
func (s *State) IntegrationID() string {
	if s.Genesys == nil || s.Status == StatusDeleted {
		return ""
	}
	return s.Genesys.IntegrationID
}

// Apply folds one event into the state. at is when it occurred. Apply never
// fails: events are facts, already decided.
func (s *State) Apply(e Event, at time.Time) {
	s.Version++
	s.UpdatedAt = at
	switch e := e.(type) {
	case TenantCreated:
		s.TenantID, s.Name, s.ExternalRef, s.Settings = e.TenantID, e.Name, e.ExternalRef, e.Settings
		s.Status, s.CreatedAt = StatusActive, at
	case TenantUpdated:
		if e.Name != nil {
			s.Name = *e.Name
		}
		if e.ExternalRef != nil {
			s.ExternalRef = *e.ExternalRef
		}
		if e.Settings != nil {
			s.Settings = *e.Settings
		}
	case TenantSuspended:
		s.Status = StatusSuspended
	case TenantReactivated:
		s.Status = StatusActive
	case TenantDeleted:
		s.Status, s.DeletedAt = StatusDeleted, &at
		// Secrets are shredded with the data key; drop their references and the
		// claims so the read models free the lookups.
		if s.Genesys != nil {
			s.Genesys.ClientSecret, s.Genesys.WebhookSecret = nil, nil
		}
		if s.WhatsApp != nil {
			s.WhatsApp.Token = nil
		}
	case GenesysCredentialsSet:
		s.setCredentials(e.ClientID, e.Region, e.ClientSecret, at)
	case CredentialsRotated:
		s.setCredentials(e.ClientID, e.Region, e.ClientSecret, at)
	case GenesysIntegrationLinked:
		if s.Genesys == nil {
			s.Genesys = &GenesysConfig{}
		}
		s.Genesys.IntegrationID = e.IntegrationID
		s.Genesys.WebhookSecret = e.WebhookSecret
	case WABALinked:
		w := s.whatsapp()
		w.WABAID = e.WABAID
		if e.BusinessID != "" {
			w.BusinessID = e.BusinessID
		}
		p := PhoneNumber{PhoneNumberID: e.PhoneNumberID, WABAID: e.WABAID,
			DisplayPhoneNumber: e.DisplayPhoneNumber, VerifiedName: e.VerifiedName, LinkedAt: at}
		if i := slices.IndexFunc(w.PhoneNumbers, func(x PhoneNumber) bool { return x.PhoneNumberID == e.PhoneNumberID }); i >= 0 {
			w.PhoneNumbers[i] = p
		} else {
			w.PhoneNumbers = append(w.PhoneNumbers, p)
		}
	case WABAUnlinked:
		w := s.whatsapp()
		w.PhoneNumbers = slices.DeleteFunc(w.PhoneNumbers, func(x PhoneNumber) bool { return x.PhoneNumberID == e.PhoneNumberID })
	case WhatsAppTokenStored:
		w := s.whatsapp()
		w.Token = &WhatsAppToken{Token: e.Token, ExpiresAt: e.ExpiresAt, StoredAt: at, Source: e.Source}
	case WhatsAppAccountUpdated:
		w := s.whatsapp()
		if e.DisplayName != "" {
			w.AccountName = e.DisplayName
		}
		if e.BanState != "" {
			w.BanState = e.BanState
		}
		if e.Event != "" {
			w.LastEvent = e.Event
		}
		for i := range w.PhoneNumbers {
			if e.PhoneNumberID == "" || w.PhoneNumbers[i].PhoneNumberID == e.PhoneNumberID {
				if e.QualityRating != "" {
					w.PhoneNumbers[i].QualityRating = e.QualityRating
				}
				if e.Status != "" {
					w.PhoneNumbers[i].Status = e.Status
				}
			}
		}
	default:
		panic(fmt.Sprintf("domain: apply of unknown event %T", e)) // a programming error: every event type is handled above
	}
}

func (s *State) setCredentials(clientID, region string, secret SecretRef, at time.Time) {
	if s.Genesys == nil {
		s.Genesys = &GenesysConfig{}
	}
	s.Genesys.ClientID, s.Genesys.Region = clientID, region
	s.Genesys.ClientSecret, s.Genesys.CredentialsUpdatedAt = &secret, &at
}

func (s *State) whatsapp() *WhatsAppConfig {
	if s.WhatsApp == nil {
		s.WhatsApp = &WhatsAppConfig{PhoneNumbers: []PhoneNumber{}}
	}
	return s.WhatsApp
}

// Clone returns a deep copy of the state.
func (s State) Clone() State {
	c := s
	if s.DeletedAt != nil {
		t := *s.DeletedAt
		c.DeletedAt = &t
	}
	if s.Settings.RateLimit != nil {
		r := *s.Settings.RateLimit
		c.Settings.RateLimit = &r
	}
	if s.Genesys != nil {
		g := *s.Genesys
		c.Genesys = &g
	}
	if s.WhatsApp != nil {
		w := *s.WhatsApp
		w.PhoneNumbers = slices.Clone(s.WhatsApp.PhoneNumbers)
		if w.PhoneNumbers == nil {
			w.PhoneNumbers = []PhoneNumber{}
		}
		c.WhatsApp = &w
	}
	return c
}
