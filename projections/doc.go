// Package projections builds the read models from events: the PostgreSQL
// tenants table and lookup claims (written inline, in the append's
// transaction), and the asynchronous projectors with their checkpoints.
// It declares the event-source interfaces it needs and does not import the
// event store.
package projections
