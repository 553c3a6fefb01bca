// Package tenants is the application: one Service with a method per use case
// of the tenant registry (create a tenant, store its Genesys credentials,
// complete WhatsApp Embedded Signup, hand out a token, resolve a webhook to
// its tenant, ...). Each method owns "load → decide → seal → append →
// invalidate" for its use case: the domain decides, the event store appends,
// and the vault, Meta and Genesys are reached through the small interfaces
// declared here, so the Service is tested with fakes and the HTTP handlers
// only decode, call and encode.
//
// Every error a method returns is a *domain.Error of the kind the client
// should see (invalid input, unknown tenant, conflict, upstream failure,
// dependency down, ...), or an unexpected error that is an internal one.
package tenants
