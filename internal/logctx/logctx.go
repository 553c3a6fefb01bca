// Package logctx carries a request's identity (request id, tenant id) in
// its context, and puts it, with whatever else the service can read from a
// context (the trace id), on every log line written with that context. It
// depends on the standard library only.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// ids is what a request's context carries: one value, one allocation.
type ids struct{ request, tenant string }

// With returns ctx carrying the request id and the id of the tenant the
// request is about (either may be empty).
func With(ctx context.Context, requestID, tenantID string) context.Context {
	return context.WithValue(ctx, key{}, ids{request: requestID, tenant: tenantID})
}

// WithRequestID returns ctx carrying the request id (and the tenant id it
// carried).
func WithRequestID(ctx context.Context, id string) context.Context {
	return With(ctx, id, TenantID(ctx))
}

// WithTenantID returns ctx carrying the tenant id (and the request id it
// carried).
func WithTenantID(ctx context.Context, id string) context.Context {
	return With(ctx, RequestID(ctx), id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(key{}).(ids)
	return v.request
}

// TenantID returns the tenant id ctx carries, or "".
func TenantID(ctx context.Context) string {
	v, _ := ctx.Value(key{}).(ids)
	return v.tenant
}

// Handler adds request_id and tenant_id, and the attributes the extra
// functions read from the context (the trace and span ids), to every record
// logged with a context that carries them.
type Handler struct {
	next  slog.Handler
	extra []func(context.Context) []slog.Attr
}

// NewHandler wraps next.
func NewHandler(next slog.Handler, extra ...func(context.Context) []slog.Attr) *Handler {
	return &Handler{next: next, extra: extra}
}

// Enabled is next's.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle adds the context's identity and passes the record on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		v, _ := ctx.Value(key{}).(ids)
		if v.request != "" {
			r.AddAttrs(slog.String("request_id", v.request))
		}
		if v.tenant != "" {
			r.AddAttrs(slog.String("tenant_id", v.tenant))
		}
		for _, f := range h.extra {
			r.AddAttrs(f(ctx)...)
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs wraps next's.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), extra: h.extra}
}

// WithGroup wraps next's.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), extra: h.extra}
}
