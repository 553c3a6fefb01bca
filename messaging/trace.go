package messaging

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/internal/tracing"
)

// tracerName is the instrumentation scope of the relay's spans.
const tracerName = "tenant-service/messaging"

// Span attributes of a published event beyond the messaging conventions.
const (
	attrEventType     = attribute.Key("tenant.event.type")
	attrEventPosition = attribute.Key("tenant.event.position")
	attrEventVersion  = attribute.Key("tenant.event.version")
)

// startPublish starts the producer span of one event (OpenTelemetry
// messaging conventions: "publish tenant.events"). The relay publishes
// events that earlier requests committed, so the span's parent is the
// traceparent the event's metadata recorded: the request's trace then
// shows the command, its commit and its publishing, however long after
// the request the relay caught up. An event recorded without one (none was
// traced) starts a trace of its own. The message carries the span's
// traceparent, so a consumer's spans follow it in the same trace.
func (r *Relay) startPublish(ctx context.Context, m *outgoing) (context.Context, trace.Span) {
	e := m.event
	ctx, span := r.tracer.Start(tracing.ContextWithTraceParent(ctx, e.Metadata.TraceParent), "publish "+r.cfg.Exchange,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			semconv.MessagingSystemRabbitMQ, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("publish"),
			semconv.MessagingDestinationName(r.cfg.Exchange), semconv.MessagingRabbitMQDestinationRoutingKey(m.key),
			semconv.MessagingMessageID(e.EventID), tracing.TenantID.String(string(e.TenantID)),
			attrEventType.String(e.Type), attrEventPosition.Int64(int64(e.Position)), attrEventVersion.Int64(int64(e.Version))))
	if tp := tracing.TraceParent(ctx); tp != "" {
		m.pub.Headers[HeaderTraceParent] = tp
	}
	return ctx, span
}

// endPublish ends a publish span, failed unless the broker confirmed.
func endPublish(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
