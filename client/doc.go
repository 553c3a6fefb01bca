// Package client resolves tenants of the Tenant Service from process
// memory and keeps that memory fresh with the service's own events: a
// lookup answered once is answered again without touching the network
// until an event says it may have changed.
//
//	c, err := client.New(ctx, client.Config{
//		BaseURL: "http://tenant-service:3007",
//		APIKey:  os.Getenv("TENANT_SERVICE_API_KEY"), // a service key
//		AMQPURL: "amqp://guest:guest@rabbitmq:5672/",
//	})
//	if err != nil { ... }
//	defer c.Close()
//
//	tc, err := c.ByPhoneNumber(ctx, phoneNumberID) // Meta's phone_number_id
//	switch {
//	case errors.Is(err, client.ErrNotFound):       // no live tenant holds it
//	case err != nil:                               // the service was needed and did not answer
//	default:                                       // tc.TenantID, tc.Name, tc.Status, tc.Genesys, ...
//	}
//
// # What it guarantees
//
//   - A cached hit takes no lock, allocates nothing and costs tens of
//     nanoseconds; "not found" is cached too.
//   - Every event the service publishes is applied before its message is
//     acknowledged: the entries of its tenant, and of the phone number or
//     integration id it names, are dropped (those that had been used are
//     read again in the background). A re-read asks for minPosition = the
//     highest event position applied, so it never brings back the state
//     from before an event the client has seen.
//   - Never backwards: a lookup never answers an older version of a tenant
//     than a lookup that completed before it began.
//   - After a broker outage the client reconnects by itself and reads the
//     events it missed from GET /api/events before it serves the entries it
//     held as fresh again; meanwhile those entries are re-read on use.
//   - When the service does not answer, cached entries keep answering; a
//     lookup that needs the service fails, within the caller's deadline,
//     with an error wrapping ErrUnavailable (never ErrNotFound).
//
// The cache itself (keys, versions, negative entries, eviction, staleness)
// is the package tenantcache, which depends on the standard library only.
// README.md describes the configuration, the memory bound and the protocol
// the client follows, for clients in other languages.
package client
