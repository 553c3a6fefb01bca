package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"tenant-service/internal/tracing"
)

// The query reaches the server, the span sees none of it, and the server
// gets the span as its parent.
func TestTransportKeepsTheQueryOutOfSpans(t *testing.T) {
	const secret = "app-secret-5Jk2Lm8Nq4Rt"
	var gotQuery, gotParent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery, gotParent = r.URL.RawQuery, r.Header.Get("traceparent")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: tracing.Transport(nil, tp)}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v25.0/1234567890/phone_numbers?client_secret="+secret+"&code=c0de-xyz", nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	parent.End()

	if !strings.Contains(gotQuery, secret) {
		t.Fatalf("the server got query %q, want the full query", gotQuery)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans ended, want the client span and its parent", len(spans))
	}
	span := spans[0]
	if span.Name() != "GET /v25.0/{id}/phone_numbers" {
		t.Errorf("span name %q", span.Name())
	}
	if want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"; gotParent != want {
		t.Errorf("traceparent sent %q, want the client span's %q", gotParent, want)
	}
	if span.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("the client span is not the request's child")
	}
	for _, kv := range span.Attributes() {
		if v := kv.Value.Emit(); strings.Contains(v, secret) || strings.Contains(v, "c0de-xyz") || strings.Contains(v, "?") {
			t.Errorf("attribute %s = %q holds the query", kv.Key, v)
		}
	}
}

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/v25.0/123/phone_numbers": "/v25.0/{id}/phone_numbers",
		"/oauth/token":             "/oauth/token",
		"/v25.0/debug_token":       "/v25.0/debug_token",
		"/":                        "/",
		"/1/2":                     "/{id}/{id}",
	} {
		if got := tracing.PathTemplate(in); got != want {
			t.Errorf("PathTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}
