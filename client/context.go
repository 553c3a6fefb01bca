package client

import "time"

// Context is the tenant context: what a service needs to handle a webhook
// for the tenant, as the tenant service's resolve routes answer it. Its JSON
// names are the service's.
//
// A Context returned by a lookup is a copy, but it shares its WhatsApp,
// Genesys and RateLimit values with the cache and with other lookups: treat
// what they point to as read-only.
type Context struct {
	TenantID    string    `json:"tenantId"`
	Name        string    `json:"name"`
	ExternalRef string    `json:"externalRef,omitempty"`
	Status      string    `json:"status"` // "active" or "suspended"; deleted tenants are ErrNotFound
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// WhatsApp, Genesys and RateLimit are nil when the tenant has none.
	WhatsApp  *WhatsApp  `json:"whatsapp"`
	Genesys   *Genesys   `json:"genesys"`
	RateLimit *RateLimit `json:"rateLimit"`
}

// WhatsApp is the tenant's WhatsApp Business Account and phone number: the
// number looked up for ByPhoneNumber, the first linked one otherwise.
type WhatsApp struct {
	WabaID             string `json:"wabaId"`
	PhoneNumberID      string `json:"phoneNumberId,omitempty"`
	DisplayPhoneNumber string `json:"displayPhoneNumber,omitempty"`
}

// Genesys is how the tenant reaches Genesys Cloud (no secrets).
type Genesys struct {
	Region        string `json:"region,omitempty"`
	ClientID      string `json:"clientId,omitempty"`
	IntegrationID string `json:"integrationId,omitempty"`
}

// RateLimit is the tenant's message rate limit.
type RateLimit struct {
	PerSecond int `json:"perSecond"`
	Burst     int `json:"burst"`
}

// Tenant statuses a Context can have. The decoder returns these constants,
// so contexts do not each hold a copy of the word.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// share makes c reuse the strings and sub-values of prev (a context of the
// same tenant, already cached; nil when there is none) where they are
// equal: the entries of one tenant (by id, by number, by integration) then
// hold one copy of them.
func (c *Context) share(prev *Context) {
	switch c.Status { // the decoder made a copy of the word
	case StatusActive:
		c.Status = StatusActive
	case StatusSuspended:
		c.Status = StatusSuspended
	}
	if prev == nil || prev.TenantID != c.TenantID {
		return
	}
	c.TenantID = prev.TenantID
	if c.Name == prev.Name {
		c.Name = prev.Name
	}
	if c.ExternalRef == prev.ExternalRef {
		c.ExternalRef = prev.ExternalRef
	}
	if c.WhatsApp != nil && prev.WhatsApp != nil && *c.WhatsApp == *prev.WhatsApp {
		c.WhatsApp = prev.WhatsApp
	}
	if c.Genesys != nil && prev.Genesys != nil && *c.Genesys == *prev.Genesys {
		c.Genesys = prev.Genesys
	}
	if c.RateLimit != nil && prev.RateLimit != nil && *c.RateLimit == *prev.RateLimit {
		c.RateLimit = prev.RateLimit
	}
}
