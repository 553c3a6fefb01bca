package handlers

import (
	"log/slog"
	"net/http/httptest"
	"testing"
)

// The AsyncAPI document is served as it was given, as JSON, without a key;
// a server given none answers 404 with a problem.
func TestAsyncAPIDocument(t *testing.T) {
	doc := []byte(`{"asyncapi":"3.0.0","info":{"title":"events","version":"1"}}`)
	s, err := NewServer(&fakeApp{}, Config{Logger: slog.New(slog.DiscardHandler), APIKeys: []APIKey{{RoleAdmin, testAdmin}}, AsyncAPI: doc})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/asyncapi.json", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(doc) {
		t.Fatalf("GET /asyncapi.json: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = httptest.NewRecorder()
	newTestServer(t, &fakeApp{}).ServeHTTP(w, httptest.NewRequest("GET", "/asyncapi.json", nil))
	checkProblem(t, w, 404, "not-found")
}
