package eventstore

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/internal/tracing"
)

// tracerName is the instrumentation scope of the event store's spans.
const tracerName = "tenant-service/eventstore"

// Span attributes of appends and groups.
const (
	attrStream   = attribute.Key("eventstore.stream_id")
	attrEvents   = attribute.Key("eventstore.events")
	attrExpected = attribute.Key("eventstore.expected_version")
	attrPosition = attribute.Key("eventstore.position") // of the append's last event
	attrAppends  = attribute.Key("eventstore.group.appends")
	attrRestarts = attribute.Key("eventstore.group.restarts")
)

// startAppend starts the span of one append, under the caller's: it lasts
// from the call until the answer, the wait for a group included. The
// tenant it names labels the spans under it.
func (s *Store) startAppend(ctx context.Context, a Append) (context.Context, trace.Span) {
	ctx, span := s.tracer.Start(ctx, "eventstore.append", trace.WithAttributes(
		tracing.TenantID.String(string(a.TenantID)), attrStream.String(a.StreamID),
		attrEvents.Int(len(a.Events)), attrExpected.Int64(int64(a.ExpectedVersion))))
	return tracing.WithTenant(ctx, string(a.TenantID)), span
}

// endAppend ends an append's span. An append committed by a group that
// another append's span leads links to that group's span, so each of the
// requests the group served can find the transaction that wrote its events.
func endAppend(span trace.Span, ans answer, res Result, err error) {
	if ans.commit.IsValid() {
		span.AddLink(trace.Link{SpanContext: ans.commit})
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else if res.Position > 0 {
		span.SetAttributes(attrPosition.Int64(int64(res.Position)))
	}
	span.End()
}

// startCommit starts the span of a group's transaction. One transaction
// serves every append of the group, and a span has one parent: it is a
// child of the group's oldest append (whose context the group runs in, see
// groupContext), so the SQL of the commit shows in that request's trace,
// and it links to every other append's span, naming its tenant.
func (s *Store) startCommit(ctx context.Context, batch []*request) (context.Context, trace.Span) {
	links := make([]trace.Link, 0, len(batch)-1)
	for _, r := range batch[1:] {
		if sc := trace.SpanContextFromContext(r.ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc,
				Attributes: []attribute.KeyValue{tracing.TenantID.String(string(r.a.TenantID))}})
		}
	}
	if len(batch) > 1 {
		// The oldest append's tenant is not the group's: label no SQL with it.
		ctx = tracing.WithTenant(ctx, "")
	}
	return s.tracer.Start(ctx, "eventstore.commit", trace.WithLinks(links...),
		trace.WithAttributes(attrAppends.Int(len(batch))))
}
