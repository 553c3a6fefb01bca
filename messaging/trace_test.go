package messaging

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
)

// Traced, each publish is a producer span under the request the event's
// metadata names, and the message carries that span as its traceparent; an
// event without a traceparent is published in a trace of its own.
func TestRelayPublishSpanContinuesTheRequestsTrace(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	rec := tracetest.NewSpanRecorder()
	r := tp.relay(t, "", RelayConfig{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)

	const request = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	caused := stored(t, domain.NewTenantID(), 1, 7, sampleEvent(t, domain.EventTenantCreated))
	caused.Metadata.TraceParent = request
	untraced := stored(t, domain.NewTenantID(), 1, 8, sampleEvent(t, domain.EventTenantCreated))
	mustHandle(t, r, []domain.StoredEvent{caused, untraced})

	headers := map[string]string{}
	for _, d := range tap.take(t, 2) {
		headers[d.MessageId], _ = d.Headers[HeaderTraceParent].(string)
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "messaging.message.id" {
				spans[kv.Value.AsString()] = s
			}
		}
	}
	span := spans[caused.EventID]
	if span == nil || spans[untraced.EventID] == nil {
		t.Fatalf("publish spans for %d of 2 events", len(spans))
	}
	if span.Name() != "publish "+tp.exchange || span.SpanKind() != trace.SpanKindProducer {
		t.Errorf("span %q of kind %s", span.Name(), span.SpanKind())
	}
	if span.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || span.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("the publish span is not a child of the request's span: trace %s, parent %s",
			span.SpanContext().TraceID(), span.Parent().SpanID())
	}
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + span.SpanContext().SpanID().String() + "-01"; headers[caused.EventID] != want {
		t.Errorf("traceparent header %q, want the publish span's %q", headers[caused.EventID], want)
	}
	own := spans[untraced.EventID]
	if own.Parent().IsValid() || headers[untraced.EventID] == "" ||
		headers[untraced.EventID][3:35] != own.SpanContext().TraceID().String() {
		t.Errorf("an event without a traceparent: parent %v, header %q", own.Parent(), headers[untraced.EventID])
	}
}
