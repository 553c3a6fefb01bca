// Package tracing holds what the service's packages share about
// OpenTelemetry traces: the tenant.id attribute and the context that carries
// a tenant id to every span started under it, the W3C traceparent of a
// context and back, a provider that only continues traces, and the HTTP
// transport for the calls to Meta and Genesys, which keeps URL queries
// (codes, tokens, the app secret) out of spans.
//
// Which provider exports spans is cmd/tenant-service's business: every
// package that traces takes a trace.TracerProvider in its config and, when
// it is nil, starts no span at all, so tracing that is off costs nothing on
// the hot paths.
package tracing
