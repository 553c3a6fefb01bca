package tracing

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Transport returns base (http.DefaultTransport when nil) wrapped so that
// every request is a client span of tp (otelhttp's, with its attributes)
// that the request carries as traceparent. Spans are named by method and
// path, with every all-digit path segment (Graph object ids) as {id}:
// "GET /v25.0/{id}/phone_numbers", "POST /oauth/token".
//
// No span sees a URL query or user info: the Graph API takes the app
// secret, Embedded Signup codes and access tokens as query parameters, and
// otelhttp records the whole URL (url.full). The query is taken off before
// otelhttp sees the request and put back after it, right before base sends
// it. Headers (Authorization: bearer tokens, Basic client credentials) are
// never recorded by otelhttp.
func Transport(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	traced := otelhttp.NewTransport(restoreQuery{base},
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + PathTemplate(r.URL.Path) }))
	return hideQuery{traced}
}

// PathTemplate returns path with every segment made only of digits replaced
// by {id}, so that span names stay few whatever the ids.
func PathTemplate(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// hiddenURL is the context key of the request's full URL while its query is
// hidden from the span.
type hiddenURL struct{}

// hideQuery sends on a shallow copy of the request whose URL has no query,
// fragment or user info, keeping the full URL in the context.
type hideQuery struct{ next http.RoundTripper }

func (h hideQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || (r.URL.RawQuery == "" && !r.URL.ForceQuery && r.URL.User == nil && r.URL.Fragment == "") {
		return h.next.RoundTrip(r)
	}
	bare := *r.URL
	bare.RawQuery, bare.ForceQuery, bare.User, bare.Fragment, bare.RawFragment = "", false, nil, "", ""
	hidden := r.WithContext(context.WithValue(r.Context(), hiddenURL{}, r.URL))
	hidden.URL = &bare
	return h.next.RoundTrip(hidden)
}

// restoreQuery puts the full URL back before the request leaves.
type restoreQuery struct{ next http.RoundTripper }

func (rq restoreQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	full, ok := r.Context().Value(hiddenURL{}).(*url.URL)
	if !ok {
		return rq.next.RoundTrip(r)
	}
	out := r.WithContext(r.Context())
	out.URL = full
	return rq.next.RoundTrip(out)
}
