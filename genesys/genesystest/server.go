package genesystest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Config configures a Server. Every field has a default.
type Config struct {
	// ExpiresIn is the lifetime of issued tokens in seconds. Default 86400.
	ExpiresIn int
	// Delay holds every answer back this long (the request's cancellation
	// ends the wait). Default 0.
	Delay time.Duration
}

// Failure is an injected answer that replaces the next calls' answers.
type Failure struct {
	Status int    // HTTP status, e.g. 503
	Body   string // the body as is; default a platform error JSON
	Times  int    // how many calls; 0: every call until ClearFailures
}

// Server is the fake login server. It is safe for concurrent use.
type Server struct {
	// URL is the base URL to give genesys.ClientConfig.LoginURL.
	URL string

	srv *httptest.Server

	mu        sync.Mutex
	cfg       Config
	clients   map[string]string // client id → secret
	calls     int
	issued    []string
	failures  []*Failure
	lastCorID string
}

// NewServer starts a fake login server, closed when the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.ExpiresIn == 0 {
		cfg.ExpiresIn = 86400
	}
	s := &Server{cfg: cfg, clients: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", s.token)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddClient registers valid client credentials.
func (s *Server) AddClient(clientID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = secret
}

// SetExpiresIn changes the lifetime of tokens issued from now on.
func (s *Server) SetExpiresIn(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ExpiresIn = seconds
}

// SetDelay changes how long answers are held back.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Delay = d
}

// Fail makes the next calls answer f instead.
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &f)
}

// ClearFailures removes every injected failure.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// Calls returns how many requests reached /oauth/token.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Issued returns the access tokens issued so far, oldest first.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// LastCorrelationID returns the ININ-Correlation-Id of the last answer.
func (s *Server) LastCorrelationID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastCorID
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	// Reading the whole body first lets the server notice a client that
	// gives up during the delay (it cancels r.Context()).
	formErr := r.ParseForm()
	_, _ = io.Copy(io.Discard, r.Body)
	corID := randomHex(16)
	s.mu.Lock()
	s.calls++
	s.lastCorID = corID
	delay, expiresIn := s.cfg.Delay, s.cfg.ExpiresIn
	var fail *Failure
	if len(s.failures) > 0 {
		f := *s.failures[0]
		fail = &f
		if s.failures[0].Times > 0 {
			if s.failures[0].Times--; s.failures[0].Times == 0 {
				s.failures = s.failures[1:]
			}
		}
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.Header().Set("ININ-Correlation-Id", corID)
	w.Header().Set("Content-Type", "application/json")
	if fail != nil {
		body := fail.Body
		if body == "" {
			b, _ := json.Marshal(map[string]any{"message": http.StatusText(fail.Status), "code": "service.unavailable",
				"status": fail.Status, "contextId": corID, "details": []any{}, "errors": []any{}})
			body = string(b)
		}
		w.WriteHeader(fail.Status)
		_, _ = w.Write([]byte(body))
		return
	}
	s.answer(w, r, expiresIn, formErr)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, expiresIn int, formErr error) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusBadRequest, "invalid_request", "only POST is supported")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "content type must be application/x-www-form-urlencoded")
		return
	}
	if formErr != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type is not supported")
		return
	}
	id, secret, ok := r.BasicAuth()
	s.mu.Lock()
	want, known := s.clients[id]
	s.mu.Unlock()
	if !ok || !known || secret != want {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok := randomHex(24)
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": expiresIn})
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "description": description, "error_description": description})
}
