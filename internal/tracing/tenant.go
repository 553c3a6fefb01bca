package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TenantID is the attribute naming the tenant a span is about. Trace back
// ends' saved queries and dashboards filter on it: renaming it breaks them.
const TenantID = attribute.Key("tenant.id")

type tenantKey struct{}

// WithTenant returns ctx carrying the tenant id, so that every span started
// under it is labelled with tenant.id (the provider's span processor reads
// it with Tenant). An empty id clears a tenant ctx carried, for work under
// it that serves several tenants. When ctx holds no recording span, nothing
// would be labelled, and ctx is returned as it is.
func WithTenant(ctx context.Context, id string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() || id == Tenant(ctx) {
		return ctx
	}
	return context.WithValue(ctx, tenantKey{}, id)
}

// Tenant returns the tenant id ctx carries, or "".
func Tenant(ctx context.Context) string {
	id, _ := ctx.Value(tenantKey{}).(string)
	return id
}
