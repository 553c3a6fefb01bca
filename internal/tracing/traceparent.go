package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Propagator reads and writes the W3C trace context (traceparent and
// tracestate), the only propagation the service speaks.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// TraceParent returns the W3C traceparent of the span in ctx, or "" when ctx
// holds no valid span context.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// ContextWithTraceParent returns ctx with the remote span context that the
// traceparent names as its parent; ctx itself when tp is empty or not a
// valid traceparent.
func ContextWithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}
