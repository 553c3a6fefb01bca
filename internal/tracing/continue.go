package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// ContinueOnly returns a provider whose tracers start spans only under a
// span context that ctx already holds, and never a new trace: clients used
// both by requests and by background work (Redis, polled without end by the
// projectors) then show up in the requests' traces without flooding the
// back end with traces of one span each. A nil provider (tracing off)
// stays nil.
func ContinueOnly(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return nil
	}
	return continueOnly{tp: tp}
}

type continueOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (c continueOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return continueTracer{tracer: c.tp.Tracer(name, opts...)}
}

type continueTracer struct {
	embedded.Tracer
	tracer trace.Tracer
}

func (t continueTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // a no-op span; ending it does nothing
	}
	return t.tracer.Start(ctx, name, opts...)
}
