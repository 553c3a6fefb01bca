package handlers

import (
	"encoding/json"
	"time"

	"tenant-service/domain"
)

// TenantView is the tenant resource: current config with secrets masked.
type TenantView struct {
	TenantID    domain.TenantID `json:"tenantId"`
	Name        string          `json:"name"`
	ExternalRef string          `json:"externalRef"`
	Status      domain.Status   `json:"status"`
	Version     domain.Version  `json:"version"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	DeletedAt   *time.Time      `json:"deletedAt,omitempty"`
	Settings    domain.Settings `json:"settings"`
	Genesys     *GenesysView    `json:"genesys"`
	WhatsApp    *WhatsAppView   `json:"whatsapp"`
}

// GenesysView is the masked Genesys configuration.
type GenesysView struct {
	ClientID             string     `json:"clientId,omitempty"`
	Region               string     `json:"region,omitempty"`
	ClientSecret         string     `json:"clientSecret,omitempty"` // "****" + last 4
	CredentialsUpdatedAt *time.Time `json:"credentialsUpdatedAt,omitempty"`
	IntegrationID        string     `json:"integrationId,omitempty"`
	WebhookSecret        string     `json:"webhookSecret,omitempty"` // masked
}

// WhatsAppView is the WhatsApp configuration without the token.
type WhatsAppView struct {
	WABAID         string               `json:"wabaId,omitempty"`
	BusinessID     string               `json:"businessId,omitempty"`
	PhoneNumbers   []domain.PhoneNumber `json:"phoneNumbers"`
	TokenStored    bool                 `json:"tokenStored"`
	Token          string               `json:"token,omitempty"` // masked
	TokenExpiresAt *time.Time           `json:"tokenExpiresAt,omitempty"`
	AccountName    string               `json:"accountName,omitempty"`
	BanState       string               `json:"banState,omitempty"`
}

// viewOf masks the state for admin and auditor responses.
func viewOf(s domain.State) TenantView {
	v := TenantView{TenantID: s.TenantID, Name: s.Name, ExternalRef: s.ExternalRef, Status: s.Status,
		Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, DeletedAt: s.DeletedAt, Settings: s.Settings}
	if g := s.Genesys; g != nil {
		gv := &GenesysView{ClientID: g.ClientID, Region: g.Region, CredentialsUpdatedAt: g.CredentialsUpdatedAt,
			IntegrationID: g.IntegrationID}
		if g.ClientSecret != nil {
			gv.ClientSecret = g.ClientSecret.Hint
		}
		if g.WebhookSecret != nil {
			gv.WebhookSecret = g.WebhookSecret.Hint
		}
		if s.Status == domain.StatusDeleted {
			gv.IntegrationID = ""
		}
		v.Genesys = gv
	}
	if w := s.WhatsApp; w != nil {
		wv := &WhatsAppView{WABAID: w.WABAID, BusinessID: w.BusinessID, PhoneNumbers: w.PhoneNumbers,
			AccountName: w.AccountName, BanState: w.BanState}
		if wv.PhoneNumbers == nil || s.Status == domain.StatusDeleted {
			wv.PhoneNumbers = []domain.PhoneNumber{}
		}
		if w.Token != nil {
			wv.TokenStored, wv.Token, wv.TokenExpiresAt = true, w.Token.Token.Hint, w.Token.ExpiresAt
		}
		v.WhatsApp = wv
	}
	return v
}

// EventView is an event as the API shows it: sealed secrets reduced to hints.
type EventView struct {
	domain.StoredEvent
}

func eventViews(events []domain.StoredEvent) []EventView {
	out := make([]EventView, len(events))
	for i, e := range events {
		data, err := domain.RedactSecrets(e.Data)
		if err != nil {
			data = json.RawMessage("null") // fail closed: stored data is always JSON
		}
		e.Data = data
		out[i] = EventView{e}
	}
	return out
}

// Page is a list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
	// HeadPosition, on the global feed, is the position of the last event
	// committed when the page was read: a consumer knows how far it is behind.
	HeadPosition int64 `json:"headPosition,omitempty"`
}
