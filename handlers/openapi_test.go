package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"tenant-service/internal/spectraltest"
)

// undocumentedRoutes are routes that are not API and so not in the
// document: the console's static HTML, JavaScript and CSS files, and the
// redirect of /admin to them.
var undocumentedRoutes = map[Route]bool{
	{"GET", ConsolePath}:                true,
	{"GET", ConsolePath + "/*filepath"}: true,
}

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("handlers/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("handlers/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// documentedOperations maps each operation of the document to its route in
// gin's notation (/api/tenants/:tenantId).
func documentedOperations(doc *openapi3.T) map[Route]*openapi3.Operation {
	ops := map[Route]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		ginPath := templateParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			ops[Route{Method: method, Path: ginPath}] = op
		}
	}
	return ops
}

func openAPIPath(ginPath string) string {
	parts := strings.Split(ginPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// The document and the router describe the same routes: a route added
// without documenting it, or an operation documented with no route, fails
// here, naming each and what to do.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := documentedOperations(doc)
	s := newTestServer(t, &fakeApp{})
	routed := map[Route]bool{}
	var problems []string
	for _, r := range s.Routes() {
		routed[r] = true
		if undocumentedRoutes[r] {
			continue
		}
		if ops[r] == nil {
			problems = append(problems, "route "+r.Method+" "+r.Path+" is in the router but not in handlers/openapi.json: add the operation "+
				strings.ToLower(r.Method)+" under paths \""+openAPIPath(r.Path)+"\", with its parameters, request body, security (the roles it allows) and every status it can answer")
		}
	}
	for r := range ops {
		if !routed[r] {
			problems = append(problems, "operation "+r.Method+" "+openAPIPath(r.Path)+" is in handlers/openapi.json but the router has no such route: remove it from the document, or add the route in handlers/routes.go")
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// Each operation's security lists exactly the roles its route allows (admin
// always); routes without a key say so with an empty security list.
func TestOpenAPISecurityIsTheRoutesRoles(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.Security != nil && len(doc.Security) > 0 {
		t.Errorf("the document has a global security requirement; each operation states its own")
	}
	s := newTestServer(t, &fakeApp{})
	for r, op := range documentedOperations(doc) {
		if op.Security == nil {
			t.Errorf("%s %s has no security: list the roles it allows, or [] for a route without a key", r.Method, openAPIPath(r.Path))
			continue
		}
		var documented []string
		for _, req := range *op.Security {
			for scheme, roles := range req {
				if scheme != "bearer" {
					t.Errorf("%s %s: security scheme %q, want bearer", r.Method, openAPIPath(r.Path), scheme)
				}
				documented = append(documented, roles...)
			}
		}
		slices.Sort(documented)
		var want []string
		for _, role := range s.roles[r] {
			want = append(want, string(role))
		}
		slices.Sort(want)
		if !slices.Equal(documented, want) {
			t.Errorf("%s %s: the document allows the roles %v, the router %v", r.Method, openAPIPath(r.Path), documented, want)
		}
	}
}

// The statuses the middleware and the request parsing answer are documented
// wherever they can happen, and every error answer is a problem.
func TestOpenAPIDocumentsTheSharedStatuses(t *testing.T) {
	doc := loadOpenAPI(t)
	for r, op := range documentedOperations(doc) {
		name := r.Method + " " + openAPIPath(r.Path)
		var roles []string
		for _, req := range *op.Security {
			roles = append(roles, req["bearer"]...)
		}
		need := []int{413} // limitBody runs on every route, first
		if len(roles) > 0 {
			need = append(need, 401, 429, 500) // authenticate, the key's rate limit, anything unexpected
			if len(roles) < 3 {
				need = append(need, 403)
			}
		}
		if op.RequestBody != nil {
			need = append(need, 400) // a body that does not decode
			if op.RequestBody.Value.Content.Get("application/json") != nil && r.Path != "/api/whatsapp/webhook" {
				need = append(need, 415) // strict decoding checks the content type
			}
		}
		if strings.Contains(r.Path, ":tenantId") {
			need = append(need, 404)
		}
		for _, status := range need {
			if op.Responses.Status(status) == nil {
				t.Errorf("%s does not document %d", name, status)
			}
		}
		for code, resp := range op.Responses.Map() {
			status, err := strconv.Atoi(code)
			if err != nil || status < 400 || (r.Path == "/readyz" && status == 503) {
				continue
			}
			mt := resp.Value.Content.Get("application/problem+json")
			if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" || len(resp.Value.Content) != 1 {
				t.Errorf("%s %d: an error answer must be application/problem+json with the Problem schema", name, status)
			}
		}
		if op.Responses.Status(429) != nil && op.Responses.Status(429).Value.Headers["Retry-After"] == nil {
			t.Errorf("%s 429 does not document Retry-After", name)
		}
	}
}

// The document is served as it is kept, without a key, with an ETag that
// lets a client revalidate it.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	s := newTestServer(t, &fakeApp{})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/openapi.json", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(openAPIDocument) {
		t.Fatalf("GET /openapi.json: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	tag := w.Header().Get("ETag")
	if !strings.HasPrefix(tag, `"`) || len(tag) < 10 || w.Header().Get("Cache-Control") == "" {
		t.Fatalf("GET /openapi.json: ETag %q, Cache-Control %q", tag, w.Header().Get("Cache-Control"))
	}
	r := httptest.NewRequest("GET", "/openapi.json", nil)
	r.Header.Set("If-None-Match", tag)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
		t.Fatalf("GET /openapi.json with its ETag: %d, %d bytes", w.Code, w.Body.Len())
	}
}

// Spectral, with the OpenAPI ruleset and the project's .spectral.yaml,
// finds no error and no warning in the document.
func TestOpenAPILint(t *testing.T) {
	spectraltest.Lint(t, "openapi.json", ".spectral.yaml")
}
