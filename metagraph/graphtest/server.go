package graphtest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names one call the fake serves. The values equal the Step
// constants of package metagraph.
type Endpoint string

// The endpoints of the fake.
const (
	ExchangeCode Endpoint = "exchange-code" // GET /{v}/oauth/access_token
	DebugToken   Endpoint = "debug-token"   // GET /{v}/debug_token
	SubscribeApp Endpoint = "subscribe-app" // POST /{v}/{waba}/subscribed_apps
	PhoneNumbers Endpoint = "phone-numbers" // GET /{v}/{waba}/phone_numbers
)

// Config configures a Server. Every field has a default.
type Config struct {
	AppID     string // the Meta app id. Default "1234567890123456".
	AppSecret string // the app secret. Default "graphtest-app-secret".
	Version   string // the only version path served. Default "v25.0".
	PageSize  int    // phone numbers per page. Default 25.
}

// Token is a business token the fake knows.
type Token struct {
	Value     string   // the opaque token, e.g. "EAA..."; required
	WABAs     []string // WABA ids granted (management and messaging), newest first
	AppID     string   // debug_token app_id. Default: the server's app id
	Invalid   bool     // debug_token says is_valid=false; other calls answer code 190
	ExpiresAt int64    // debug_token expires_at, Unix seconds. Default 0 (never)
	ExpiresIn int      // expires_in of the code exchange. Default 0 (left out)
	Scopes    []string // debug_token scopes. Default the two WhatsApp scopes and public_profile
}

// PhoneNumber is one number of a WABA as phone_numbers lists it.
type PhoneNumber struct {
	ID                     string `json:"id"`
	DisplayPhoneNumber     string `json:"display_phone_number"`
	VerifiedName           string `json:"verified_name"`
	QualityRating          string `json:"quality_rating"`
	CodeVerificationStatus string `json:"code_verification_status"`
}

// Server is the fake Graph API. It is safe for concurrent use.
type Server struct {
	// URL is the base URL to give metagraph.Config.BaseURL.
	URL string

	cfg Config
	srv *httptest.Server

	mu         sync.Mutex
	codes      map[string]string // code → token value
	usedCodes  map[string]bool
	tokens     map[string]Token
	numbers    map[string][]PhoneNumber // WABA id → numbers, newest first
	subscribed map[string]int           // WABA id → successful subscriptions
	failures   map[Endpoint][]*Failure
	calls      map[Endpoint]int
	lastTrace  string
}

// NewServer starts a fake Graph API, closed when the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID = "1234567890123456"
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = "graphtest-app-secret"
	}
	if cfg.Version == "" {
		cfg.Version = "v25.0"
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	s := &Server{cfg: cfg, codes: map[string]string{}, usedCodes: map[string]bool{},
		tokens: map[string]Token{}, numbers: map[string][]PhoneNumber{}, subscribed: map[string]int{},
		failures: map[Endpoint][]*Failure{}, calls: map[Endpoint]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AppID returns the app id the fake expects as client_id and in app tokens.
func (s *Server) AppID() string { return s.cfg.AppID }

// AppSecret returns the app secret the fake expects.
func (s *Server) AppSecret() string { return s.cfg.AppSecret }

// Version returns the Graph version the fake serves.
func (s *Server) Version() string { return s.cfg.Version }

// AddCode makes code exchangeable (once) for the token, and registers the token.
func (s *Server) AddCode(code string, tok Token) {
	s.AddToken(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = tok.Value
}

// AddToken registers a business token without a code, replacing any token
// with the same value.
func (s *Server) AddToken(tok Token) {
	if tok.AppID == "" {
		tok.AppID = s.cfg.AppID
	}
	if tok.Scopes == nil {
		tok.Scopes = []string{"whatsapp_business_management", "whatsapp_business_messaging", "public_profile"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok.Value] = tok
}

// AddPhoneNumbers appends numbers to the WABA's list (newest first order is
// the order given).
func (s *Server) AddPhoneNumbers(wabaID string, numbers ...PhoneNumber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[wabaID] = append(s.numbers[wabaID], numbers...)
}

// Onboard is the usual setup in one call: code exchanges for token, which is
// granted wabaID, which has the numbers.
func (s *Server) Onboard(code, token, wabaID string, numbers ...PhoneNumber) {
	s.AddCode(code, Token{Value: token, WABAs: []string{wabaID}})
	s.AddPhoneNumbers(wabaID, numbers...)
}

// Calls returns how many requests reached the endpoint, failed ones included.
func (s *Server) Calls(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[ep]
}

// Subscribed returns how many subscribed_apps calls succeeded for the WABA.
func (s *Server) Subscribed(wabaID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribed[wabaID]
}

// LastFBTraceID returns the fbtrace_id of the last error the fake sent.
func (s *Server) LastFBTraceID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTrace
}

// newTraceID returns a random id shaped like Meta's fbtrace_id.
func newTraceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "A" + strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")
}

// sleep waits d or until the request is gone.
func sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
