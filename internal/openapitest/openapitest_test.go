package openapitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testDoc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/things": {
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
        "responses": {
          "201": {"description": "made", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "note": {"type": ["string", "null"]}}}}}},
          "400": {"$ref": "#/components/responses/Problem"}
        }
      }
    }
  },
  "components": {
    "responses": {"Problem": {"description": "p", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
    "schemas": {"Problem": {"type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}}
  }
}`

// exchange sends body to POST path of a server that answers status with
// answer, and returns what Check says of it.
func exchange(t *testing.T, path, body string, status int, contentType, answer string) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	v, err := New([]byte(testDoc), srv.URL, "/files")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	respBody, _ := io.ReadAll(res.Body)
	return v.Check(req, []byte(body), res, respBody)
}

// Check passes what the document describes and names what it does not: an
// undocumented status, an answer of another shape, a request the server
// should have refused, an unknown route answered with something other than
// a problem. An invalid request the server refused is not held against the
// document, nor is anything under a path New was told is outside the API.
func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		status           int
		contentType      string
		answer           string
		want             string // in the error; "" for none
	}{
		{"valid", "/things", `{"name":"a"}`, 201, "application/json", `{"id":"1","note":null}`, ""},
		{"refused bad request", "/things", `{"name":1}`, 400, "application/problem+json", `{"status":400}`, ""},
		{"undocumented status", "/things", `{"name":"a"}`, 409, "application/problem+json", `{"status":409}`, "status is not supported"},
		{"answer of another shape", "/things", `{"name":"a"}`, 201, "application/json", `{"note":"x"}`, "does not match the document"},
		{"accepted bad request", "/things", `{"name":1}`, 201, "application/json", `{"id":"1"}`, "accepted a request"},
		{"problem of another shape", "/things", `{"name":1}`, 400, "application/problem+json", `{"status":"400"}`, "does not match"},
		{"unknown route, problem", "/nothing", ``, 404, "application/problem+json", `{"status":404}`, ""},
		{"unknown route, answered", "/nothing", ``, 200, "application/json", `{}`, "document the route"},
		{"outside the API", "/files", ``, 301, "text/html", `moved`, ""},
		{"under a path outside the API", "/files/app.js", ``, 200, "text/javascript", `x`, ""},
		{"beside a path outside the API", "/filesystem", ``, 200, "text/html", `x`, "document the route"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := exchange(t, c.path, c.body, c.status, c.contentType, c.answer)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected mismatch: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}
