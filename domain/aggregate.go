package domain

import "time"

// Tenant is the aggregate: it decides on commands and records events. Load it
// by applying stored events with Replay, run commands, then persist Pending.
type Tenant struct {
	state   State
	loaded  Version
	pending []Event
	// Clock stamps the events a command records. Defaults to time.Now.
	Clock func() time.Time
}

// NewTenant returns an empty aggregate (version 0) with the given clock.
func NewTenant(clock func() time.Time) *Tenant {
	if clock == nil {
		clock = time.Now
	}
	return &Tenant{Clock: clock}
}

// Replay folds a stored event into the aggregate without recording it.
func (t *Tenant) Replay(e Event, at time.Time) {
	t.state.Apply(e, at)
	t.loaded = t.state.Version
}

// Restore starts the aggregate from a snapshot of its state.
func (t *Tenant) Restore(s State) {
	t.state = s.Clone()
	t.loaded = s.Version
}

// State returns a copy of the current state, pending events included.
func (t *Tenant) State() State { return t.state.Clone() }

// Version returns the version the stream had when loaded (before pending events).
func (t *Tenant) Version() Version { return t.loaded }

// Pending returns the events recorded by commands since loading.
func (t *Tenant) Pending() []Event { return t.pending }

func (t *Tenant) record(e Event) {
	t.state.Apply(e, t.Clock().UTC())
	t.pending = append(t.pending, e)
}

func (t *Tenant) writable() error {
	switch {
	case !t.state.Exists():
		return ErrTenantNotFound
	case t.state.Status == StatusDeleted:
		return ErrTenantDeleted
	}
	return nil
}

// CreateTenant is the input of Create.
type CreateTenant struct {
	Name        string
	ExternalRef string
	Settings    Settings
}

// Create records TenantCreated for a new tenant.
func (t *Tenant) Create(id TenantID, c CreateTenant) error {
	if t.state.Exists() {
		return ErrTenantExists
	}
	var errs fieldErrors
	errs.check("name", validateName(c.Name))
	errs.check("externalRef", validateExternalRef(c.ExternalRef))
	errs.add(validateSettings(c.Settings)...)
	if err := errs.err(); err != nil {
		return err
	}
	t.record(TenantCreated{TenantID: id, Name: c.Name, ExternalRef: c.ExternalRef, Settings: c.Settings})
	return nil
}

// UpdateTenant is the input of Update; nil fields stay as they are.
type UpdateTenant struct {
	Name        *string
	ExternalRef *string
	Settings    *Settings
}

// Update records TenantUpdated with the fields that change. An update that
// changes nothing records nothing.
func (t *Tenant) Update(u UpdateTenant) error {
	if err := t.writable(); err != nil {
		return err
	}
	var errs fieldErrors
	if u.Name != nil {
		errs.check("name", validateName(*u.Name))
	}
	if u.ExternalRef != nil {
		errs.check("externalRef", validateExternalRef(*u.ExternalRef))
	}
	if u.Settings != nil {
		errs.add(validateSettings(*u.Settings)...)
	}
	if err := errs.err(); err != nil {
		return err
	}
	var e TenantUpdated
	if u.Name != nil && *u.Name != t.state.Name {
		e.Name = u.Name
	}
	if u.ExternalRef != nil && *u.ExternalRef != t.state.ExternalRef {
		e.ExternalRef = u.ExternalRef
	}
	if u.Settings != nil && !sameSettings(*u.Settings, t.state.Settings) {
		e.Settings = u.Settings
	}
	if e.Name == nil && e.ExternalRef == nil && e.Settings == nil {
		return nil
	}
	t.record(e)
	return nil
}

func sameSettings(a, b Settings) bool {
	if (a.RateLimit == nil) != (b.RateLimit == nil) {
		return false
	}
	return a.RateLimit == nil || *a.RateLimit == *b.RateLimit
}

// Suspend records TenantSuspended. Suspending a suspended tenant changes nothing.
func (t *Tenant) Suspend(reason string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := validateReason(reason); err != nil {
		return err
	}
	if t.state.Status == StatusSuspended {
		return nil
	}
	t.record(TenantSuspended{Reason: reason})
	return nil
}

// Reactivate records TenantReactivated. Reactivating an active tenant changes nothing.
func (t *Tenant) Reactivate(reason string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := validateReason(reason); err != nil {
		return err
	}
	if t.state.Status == StatusActive {
		return nil
	}
	t.record(TenantReactivated{Reason: reason})
	return nil
}

// Delete records TenantDeleted. The caller destroys the tenant's data key in
// the same transaction.
func (t *Tenant) Delete(reason string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := validateReason(reason); err != nil {
		return err
	}
	t.record(TenantDeleted{Reason: reason})
	return nil
}

// SetGenesysCredentials records GenesysCredentialsSet the first time and
// CredentialsRotated afterwards. The plaintext was validated with
// ValidateGenesysCredentials and sealed before this call.
func (t *Tenant) SetGenesysCredentials(clientID, region string, secret SecretRef) error {
	if err := t.writable(); err != nil {
		return err
	}
	if t.state.Genesys == nil || t.state.Genesys.ClientSecret == nil {
		t.record(GenesysCredentialsSet{ClientID: clientID, Region: region, ClientSecret: secret})
		return nil
	}
	t.record(CredentialsRotated{ClientID: clientID, Region: region, ClientSecret: secret})
	return nil
}

// LinkGenesysIntegration records GenesysIntegrationLinked.
func (t *Tenant) LinkGenesysIntegration(integrationID string, webhookSecret *SecretRef) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkField("integrationId", validateExternalID(integrationID, 128)); err != nil {
		return err
	}
	t.record(GenesysIntegrationLinked{IntegrationID: integrationID, WebhookSecret: webhookSecret})
	return nil
}

// LinkWABA records WABALinked. A tenant links numbers of one WABA; numbers of
// another WABA need the first WABA's numbers unlinked.
func (t *Tenant) LinkWABA(l WABALinked) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := ValidateLink(l); err != nil {
		return err
	}
	if w := t.state.WhatsApp; w != nil && len(w.PhoneNumbers) > 0 && w.WABAID != l.WABAID {
		return Errorf(KindRefused, "waba-mismatch",
			"the tenant's numbers belong to WABA %s; unlink them before linking WABA %s", w.WABAID, l.WABAID)
	}
	if p, ok := t.state.WhatsApp.Phone(l.PhoneNumberID); ok && p.DisplayPhoneNumber == l.DisplayPhoneNumber &&
		(l.VerifiedName == "" || p.VerifiedName == l.VerifiedName) {
		return nil // already linked as asked
	}
	if l.Source == "" {
		l.Source = "manual"
	}
	t.record(l)
	return nil
}

// ValidateLink checks the fields of a link without deciding on it.
func ValidateLink(l WABALinked) error {
	var errs fieldErrors
	errs.check("wabaId", validateExternalID(l.WABAID, 64))
	errs.check("phoneNumberId", validateExternalID(l.PhoneNumberID, 64))
	errs.check("displayPhoneNumber", validateOptional(l.DisplayPhoneNumber, 32))
	errs.check("businessId", validateOptional(l.BusinessID, 64))
	errs.check("verifiedName", validateOptional(l.VerifiedName, 200))
	return errs.err()
}

// UnlinkWABA records WABAUnlinked for a linked number.
func (t *Tenant) UnlinkWABA(phoneNumberID string) error {
	if err := t.writable(); err != nil {
		return err
	}
	p, ok := t.state.WhatsApp.Phone(phoneNumberID)
	if !ok {
		return Errorf(KindNotFound, "phone-number-not-linked", "phone number %s is not linked to this tenant", truncate(phoneNumberID, 64))
	}
	t.record(WABAUnlinked{WABAID: p.WABAID, PhoneNumberID: p.PhoneNumberID})
	return nil
}

// StoreWhatsAppToken records WhatsAppTokenStored; the token is sealed already.
func (t *Tenant) StoreWhatsAppToken(token SecretRef, expiresAt *time.Time, source string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.record(WhatsAppTokenStored{Token: token, ExpiresAt: expiresAt, Source: source})
	return nil
}

// RecordAccountUpdate records WhatsAppAccountUpdated reported by Meta.
// Updates for a deleted tenant are dropped without error: Meta retries
// otherwise, and the fact no longer matters.
func (t *Tenant) RecordAccountUpdate(u WhatsAppAccountUpdated) error {
	if !t.state.Exists() {
		return ErrTenantNotFound
	}
	if err := ValidateAccountUpdate(u); err != nil {
		return err
	}
	if t.state.Status == StatusDeleted {
		return nil
	}
	t.record(u)
	return nil
}
