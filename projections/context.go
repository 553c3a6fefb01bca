package projections

import (
	"time"

	"tenant-service/domain"
)

// Context is the tenant context: what a platform service needs to handle a
// webhook for the tenant. It is the value of the Redis keys tenant:{id},
// tenant:phone:{phoneNumberId} and tenant:integration:{integrationId}, and
// the body of the resolve routes. It never holds a secret, not even as
// ciphertext. Its JSON field names are read by other services: renaming one
// breaks them.
type Context struct {
	TenantID    domain.TenantID `json:"tenantId"`
	Name        string          `json:"name"`
	ExternalRef string          `json:"externalRef,omitempty"`
	Status      domain.Status   `json:"status"`
	Version     domain.Version  `json:"version"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	// WhatsApp, Genesys and RateLimit are always present in the JSON, null
	// when unset, so a consumer can read ctx.genesys?.region without first
	// asking whether the key exists.
	WhatsApp  *WhatsAppContext  `json:"whatsapp"`
	Genesys   *GenesysContext   `json:"genesys"`
	RateLimit *domain.RateLimit `json:"rateLimit"`
}

// WhatsAppContext is the tenant's WhatsApp Business Account and the phone
// number the context was resolved by (the first linked one for lookups by
// tenant or integration), plus every linked number.
type WhatsAppContext struct {
	WABAID             string         `json:"wabaId"`
	PhoneNumberID      string         `json:"phoneNumberId,omitempty"`
	DisplayPhoneNumber string         `json:"displayPhoneNumber,omitempty"`
	BusinessID         string         `json:"businessId,omitempty"`
	PhoneNumbers       []PhoneContext `json:"phoneNumbers"`
}

// PhoneContext is one linked WhatsApp phone number.
type PhoneContext struct {
	PhoneNumberID      string `json:"phoneNumberId"`
	WABAID             string `json:"wabaId"`
	DisplayPhoneNumber string `json:"displayPhoneNumber,omitempty"`
	VerifiedName       string `json:"verifiedName,omitempty"`
	QualityRating      string `json:"qualityRating,omitempty"`
	Status             string `json:"status,omitempty"`
}

// GenesysContext is how the tenant reaches Genesys Cloud, without secrets.
type GenesysContext struct {
	Region        string `json:"region,omitempty"`
	ClientID      string `json:"clientId,omitempty"`
	IntegrationID string `json:"integrationId,omitempty"`
}

// ContextFromState returns the tenant context of the state. phoneNumberID
// selects the number the whatsapp block describes; "" (or a number the
// tenant does not hold) selects the first linked number.
func ContextFromState(s domain.State, phoneNumberID string) Context {
	c := Context{TenantID: s.TenantID, Name: s.Name, ExternalRef: s.ExternalRef, Status: s.Status,
		Version: s.Version, UpdatedAt: s.UpdatedAt.UTC()}
	if rl := s.Settings.RateLimit; rl != nil {
		r := *rl
		c.RateLimit = &r
	}
	if g := s.Genesys; g != nil && (g.ClientID != "" || g.Region != "" || g.IntegrationID != "") {
		c.Genesys = &GenesysContext{Region: g.Region, ClientID: g.ClientID, IntegrationID: g.IntegrationID}
	}
	if w := s.WhatsApp; w != nil && (w.WABAID != "" || len(w.PhoneNumbers) > 0) {
		wc := &WhatsAppContext{WABAID: w.WABAID, BusinessID: w.BusinessID, PhoneNumbers: make([]PhoneContext, 0, len(w.PhoneNumbers))}
		for _, p := range w.PhoneNumbers {
			wc.PhoneNumbers = append(wc.PhoneNumbers, PhoneContext{PhoneNumberID: p.PhoneNumberID, WABAID: p.WABAID,
				DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName,
				QualityRating: p.QualityRating, Status: p.Status})
		}
		p, ok := w.Phone(phoneNumberID)
		if !ok && len(w.PhoneNumbers) > 0 {
			p, ok = w.PhoneNumbers[0], true
		}
		if ok {
			wc.PhoneNumberID, wc.DisplayPhoneNumber = p.PhoneNumberID, p.DisplayPhoneNumber
			if p.WABAID != "" {
				wc.WABAID = p.WABAID
			}
		}
		c.WhatsApp = wc
	}
	return c
}
