package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
	"tenant-service/internal/tracing"
)

// tracerName is the instrumentation scope of the server spans.
const tracerName = "tenant-service/handlers"

// traceRequest runs the rest of the chain inside a server span (OpenTelemetry
// HTTP conventions): named by method and route template ("POST
// /api/tenants"; only the method when no route matched, so that arbitrary
// paths do not become span names), a child of the caller's W3C traceparent
// when it sent one. A valid :tenantId becomes tenant.id on this span and on
// every span under it. Nothing of the query, headers or body is recorded:
// they carry API keys, tokens and Meta's verify token.
func (s *Server) traceRequest(c *gin.Context) {
	r := c.Request
	ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	route := c.FullPath()
	method, known := spanMethod(r.Method)
	name := method
	if route != "" {
		name += " " + route
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method), semconv.URLScheme(scheme),
		semconv.URLPath(strings.ToValidUTF8(r.URL.Path, "\uFFFD")), semconv.ClientAddress(c.ClientIP()))
	if !known {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(strings.ToValidUTF8(r.Method, "\uFFFD")))
	}
	if route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(strings.ToValidUTF8(ua, "\uFFFD")))
	}
	tenant := ""
	if id, err := domain.ParseTenantID(c.Param("tenantId")); err == nil {
		tenant = string(id)
		attrs = append(attrs, tracing.TenantID.String(tenant))
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	defer span.End()
	c.Request = r.WithContext(tracing.WithTenant(ctx, tenant))
	c.Next()
	status := c.Writer.Status()
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if status >= 500 {
		// A server span fails on 5xx only: a 4xx is the client's error.
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
}

// spanMethod returns the method as the conventions name it: a known one as
// it is, any other as _OTHER, so a client cannot make up span names.
func spanMethod(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m, true
	}
	return "_OTHER", false
}

// labelTenant names the tenant on the request's span when the route did not
// (a create, a signup: the tenant id is in the answer, not the path).
func (s *Server) labelTenant(c *gin.Context, id domain.TenantID) {
	if s.tracer != nil && id != "" {
		trace.SpanFromContext(c.Request.Context()).SetAttributes(tracing.TenantID.String(string(id)))
	}
}
