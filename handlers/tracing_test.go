package handlers

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracedServer is newTestServer with tracing on, recording every span.
func newTracedServer(t *testing.T, app App) (*Server, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	s, err := NewServer(app, Config{Logger: slog.New(slog.DiscardHandler),
		APIKeys:        []APIKey{{RoleAdmin, testAdmin}, {RoleService, testService}, {RoleAuditor, testAuditor}},
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func onlySpan(t *testing.T, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	return spans[0]
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// A command's server span continues the caller's trace, is named by its
// route, names the tenant, and is the parent the event's traceparent names.
func TestServerSpanContinuesTheCallersTrace(t *testing.T) {
	app := &fakeApp{}
	s, rec := newTracedServer(t, app)
	const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c := call{"PATCH", "/api/tenants/" + testTenant, `{"name":"B"}`, testAdmin, "Update", 200}
	if w := c.do(t, s, "traceparent: "+caller); w.Code != 200 {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	span := onlySpan(t, rec)
	if span.Name() != "PATCH /api/tenants/:tenantId" || span.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q of kind %s", span.Name(), span.SpanKind())
	}
	if span.SpanContext().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		span.Parent().SpanID().String() != "b7ad6b7169203331" || !span.Parent().IsRemote() {
		t.Errorf("span %s has parent %s, want the caller's span", span.SpanContext().TraceID(), span.Parent().SpanID())
	}
	for key, want := range map[string]string{"tenant.id": testTenant, "http.route": "/api/tenants/:tenantId",
		"http.request.method": "PATCH", "http.response.status_code": "200", "url.path": "/api/tenants/" + testTenant} {
		if v, ok := attr(span, key); !ok || v.Emit() != want {
			t.Errorf("%s = %q, want %q", key, v.Emit(), want)
		}
	}
	want := "00-0af7651916cd43dd8448eb211c80319c-" + span.SpanContext().SpanID().String() + "-01"
	if got := app.write.Metadata.TraceParent; got != want {
		t.Errorf("the event's traceparent is %q, want the server span's %q", got, want)
	}
}

// Without a provider, no span: the event records the caller's traceparent.
func TestUntracedServerRecordsTheCallersTraceParent(t *testing.T) {
	app := &fakeApp{}
	s := newTestServer(t, app)
	const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	call{"PATCH", "/api/tenants/" + testTenant, `{"name":"B"}`, testAdmin, "Update", 200}.do(t, s, "traceparent: "+caller)
	if got := app.write.Metadata.TraceParent; got != caller {
		t.Fatalf("traceparent %q, want the caller's", got)
	}
}

// Unmatched paths do not become span names; a 5xx is an error, a 4xx not;
// the query (Meta's verify token) is never recorded.
func TestServerSpanNamesAndStatuses(t *testing.T) {
	app := &fakeApp{}
	s, rec := newTracedServer(t, app)
	call{"GET", "/no/such/path/0123", "", testAdmin, "", 404}.do(t, s)
	if span := onlySpan(t, rec); span.Name() != "GET" || span.Status().Code == codes.Error {
		t.Errorf("unmatched: span %q, status %v", span.Name(), span.Status())
	}

	s, rec = newTracedServer(t, &fakeApp{err: errors.New("boom")})
	call{"GET", "/api/tenants/" + testTenant, "", testAuditor, "Tenant", 500}.do(t, s)
	if span := onlySpan(t, rec); span.Status().Code != codes.Error {
		t.Errorf("500: status %v, want an error", span.Status())
	}

	s, rec = newTracedServer(t, app)
	call{"GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-s3cret&hub.challenge=1", "", "", "VerifyWebhook", 200}.do(t, s)
	span := onlySpan(t, rec)
	for _, kv := range span.Attributes() {
		if strings.Contains(kv.Value.Emit(), "verify-s3cret") {
			t.Errorf("%s = %q holds the verify token", kv.Key, kv.Value.Emit())
		}
	}
}
