// Package openapitest checks HTTP traffic against the service's OpenAPI
// document, so that tests which drive the API keep the document true. It is
// for tests only.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator checks requests and answers against an OpenAPI document.
// It is safe for concurrent use.
type Validator struct {
	doc     *openapi3.T
	router  routers.Router
	outside []string
}

// New loads and validates the document and routes requests to serverURL
// (e.g. an httptest server's URL) through it. Requests to the paths outside
// names (each path itself and everything under it, e.g. "/admin") are not
// API and are not checked: the server serves them, the document leaves them
// out.
func New(doc []byte, serverURL string, outside ...string) (*Validator, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	// The requests go to the test's server, not to the document's.
	d.Servers = openapi3.Servers{{URL: strings.TrimSuffix(serverURL, "/")}}
	r, err := gorillamux.NewRouter(d)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &Validator{doc: d, router: r, outside: outside}, nil
}

// isOutside reports whether path is one of the paths outside the API.
func (v *Validator) isOutside(path string) bool {
	for _, p := range v.outside {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// Check validates one exchange: the answer always (its status must be
// documented for the operation, and its headers and body must match), the
// request only when the server accepted it (2xx), since tests send invalid
// requests on purpose and the server must refuse those, not the document.
// A request no operation of the document matches must have been answered
// with a 404 or 405 problem. body and respBody are the bodies as sent;
// respBody is not checked for text/event-stream answers (an endless stream).
func (v *Validator) Check(req *http.Request, body []byte, res *http.Response, respBody []byte) error {
	ctx := context.Background()
	if v.isOutside(req.URL.Path) {
		return nil
	}
	if protocolError(res, respBody) {
		// net/http refused the request line or a header before any
		// handler saw it: not an answer of the API.
		return nil
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("no operation in the document (%v), yet the server answered %d: document the route", err, res.StatusCode)
		}
		return v.checkProblem(res, respBody)
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    cloneWithBody(req, body),
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("the server accepted a request the document calls invalid: %w", err)
		}
	}
	stream := mediaType(res.Header.Get("Content-Type")) == "text/event-stream"
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			ExcludeResponseBody:   stream || req.Method == http.MethodHead,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("the answer does not match the document: %w", err)
	}
	return nil
}

// checkProblem checks an answer against the document's Problem schema.
func (v *Validator) checkProblem(res *http.Response, body []byte) error {
	if mt := mediaType(res.Header.Get("Content-Type")); mt != "application/problem+json" {
		return fmt.Errorf("a %d answer of content type %q, want application/problem+json", res.StatusCode, mt)
	}
	ref := v.doc.Components.Schemas["Problem"]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("the document has no Problem schema")
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("a problem that is not JSON: %w", err)
	}
	if err := ref.Value.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("a problem that does not match the Problem schema: %w", err)
	}
	return nil
}

// protocolError reports whether the answer is net/http's own refusal of a
// malformed request ("400 Bad Request" in plain text, connection closed).
func protocolError(res *http.Response, body []byte) bool {
	return res.StatusCode == http.StatusBadRequest && res.Close &&
		mediaType(res.Header.Get("Content-Type")) == "text/plain" && bytes.HasPrefix(body, []byte("400 Bad Request"))
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return mt
}

func cloneWithBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// Transport returns a RoundTripper that sends requests through base and
// checks each exchange with Check (requests to the paths outside, as in New,
// are not checked). Mismatches fail t, each once, naming the
// method, path, status and what does not match; they are reported when the
// test ends, since requests may come from goroutines of the test.
func Transport(t testing.TB, doc []byte, serverURL string, base http.RoundTripper, outside ...string) http.RoundTripper {
	t.Helper()
	v, err := New(doc, serverURL, outside...)
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	tr := &transport{v: v, base: base, seen: map[string]bool{}}
	t.Cleanup(func() {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		sort.Strings(tr.failures)
		for _, f := range tr.failures {
			t.Errorf("OpenAPI: %s", f)
		}
	})
	return tr
}

type transport struct {
	v        *Validator
	base     http.RoundTripper
	mu       sync.Mutex
	seen     map[string]bool
	failures []string
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("openapitest: read the request body: %w", err)
		}
		body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	res, err := tr.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	var respBody []byte
	if mediaType(res.Header.Get("Content-Type")) != "text/event-stream" {
		respBody, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(respBody))
		if err != nil {
			// The test sees the same short body; the check has nothing whole to judge.
			return res, nil
		}
	}
	if err := tr.v.Check(req, body, res, respBody); err != nil {
		tr.fail(fmt.Sprintf("%s %s → %d: %v", req.Method, req.URL.RequestURI(), res.StatusCode, err))
	}
	return res, nil
}

func (tr *transport) fail(msg string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(msg) > 4000 {
		msg = msg[:4000] + " …"
	}
	if len(tr.failures) >= 50 || tr.seen[msg] {
		return
	}
	tr.seen[msg] = true
	tr.failures = append(tr.failures, msg)
}
