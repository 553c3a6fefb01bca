package graphtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// graphError is Graph's error object.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode,omitempty"`
	IsTransient bool   `json:"is_transient,omitempty"`
	FBTraceID   string `json:"fbtrace_id"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("x-fb-trace-id", newTraceID())
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+s.cfg.Version+"/")
	if !ok {
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 100,
			Message: "Unknown path components: " + r.URL.Path})
		return
	}
	parts := strings.Split(rest, "/")
	var ep Endpoint
	var handle func(http.ResponseWriter, *http.Request, string)
	switch {
	case rest == "oauth/access_token" && r.Method == http.MethodGet:
		ep, handle = ExchangeCode, s.exchangeCode
	case rest == "debug_token" && r.Method == http.MethodGet:
		ep, handle = DebugToken, s.debugToken
	case len(parts) == 2 && parts[1] == "subscribed_apps" && r.Method == http.MethodPost:
		ep, handle = SubscribeApp, s.subscribeApp
	case len(parts) == 2 && parts[1] == "phone_numbers" && r.Method == http.MethodGet:
		ep, handle = PhoneNumbers, s.phoneNumbers
	default:
		s.writeError(w, http.StatusBadRequest, unsupported(r.Method, parts[0]))
		return
	}
	s.mu.Lock()
	s.calls[ep]++
	s.mu.Unlock()
	if f := s.takeFailure(ep); f != nil && s.inject(w, r, f) {
		return
	}
	handle(w, r, parts[0])
}

func (s *Server) writeError(w http.ResponseWriter, status int, g graphError) {
	g.FBTraceID = newTraceID()
	s.mu.Lock()
	s.lastTrace = g.FBTraceID
	s.mu.Unlock()
	if g.Code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+g.Message+`"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]graphError{"error": g})
}

func writeJSON(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }

func unsupported(method, id string) graphError {
	return graphError{Type: "GraphMethodException", Code: 100, Subcode: 33, Message: fmt.Sprintf(
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
		strings.ToLower(method), id)}
}

var errBadToken = graphError{Type: "OAuthException", Code: 190, Message: "Invalid OAuth access token - Cannot parse access token"}

// bearer returns the access token of the request: Authorization "Bearer" or
// "OAuth", or the access_token parameter.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "OAuth "} {
		if v, ok := strings.CutPrefix(h, p); ok {
			return v
		}
	}
	return r.URL.Query().Get("access_token")
}

func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	if q.Get("client_id") != s.cfg.AppID {
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 101,
			Message: "Error validating application. Invalid application ID."})
		return
	}
	if q.Get("client_secret") != s.cfg.AppSecret {
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 1,
			Message: "Error validating client secret."})
		return
	}
	code := q.Get("code")
	s.mu.Lock()
	value, known := s.codes[code]
	used := s.usedCodes[code]
	if known && !used {
		s.usedCodes[code] = true
	}
	tok := s.tokens[value]
	s.mu.Unlock()
	switch {
	case !known:
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 100,
			Message: "Invalid verification code format."})
		return
	case used:
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 100, Subcode: 36009,
			Message: "This authorization code has been used."})
		return
	}
	out := map[string]any{"access_token": tok.Value, "token_type": "bearer"}
	if tok.ExpiresIn > 0 {
		out["expires_in"] = tok.ExpiresIn
	}
	writeJSON(w, out)
}

func (s *Server) debugToken(w http.ResponseWriter, r *http.Request, _ string) {
	if bearer(r) != s.cfg.AppID+"|"+s.cfg.AppSecret {
		s.writeError(w, http.StatusBadRequest, errBadToken)
		return
	}
	input := r.URL.Query().Get("input_token")
	if input == "" {
		s.writeError(w, http.StatusBadRequest, graphError{Type: "OAuthException", Code: 100,
			Message: "(#100) The parameter input_token is required"})
		return
	}
	s.mu.Lock()
	tok, ok := s.tokens[input]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"data": map[string]any{
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
			"is_valid": false, "scopes": []string{}}})
		return
	}
	granular := []map[string]any{}
	if len(tok.WABAs) > 0 {
		granular = append(granular,
			map[string]any{"scope": "whatsapp_business_management", "target_ids": tok.WABAs},
			map[string]any{"scope": "whatsapp_business_messaging", "target_ids": tok.WABAs})
	}
	writeJSON(w, map[string]any{"data": map[string]any{
		"app_id": tok.AppID, "type": "SYSTEM_USER", "application": "graphtest",
		"data_access_expires_at": 0, "expires_at": tok.ExpiresAt, "is_valid": !tok.Invalid,
		"scopes": tok.Scopes, "granular_scopes": granular, "user_id": "9000000000000001"}})
}

// grantedToken checks the request's token for the WABA and answers when it
// does not pass.
func (s *Server) grantedToken(w http.ResponseWriter, r *http.Request, wabaID string) bool {
	s.mu.Lock()
	tok, ok := s.tokens[bearer(r)]
	s.mu.Unlock()
	switch {
	case !ok || tok.Invalid:
		s.writeError(w, http.StatusUnauthorized, errBadToken)
		return false
	case !contains(tok.WABAs, wabaID):
		s.writeError(w, http.StatusBadRequest, unsupported(r.Method, wabaID))
		return false
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) subscribeApp(w http.ResponseWriter, r *http.Request, wabaID string) {
	if !s.grantedToken(w, r, wabaID) {
		return
	}
	s.mu.Lock()
	s.subscribed[wabaID]++
	s.mu.Unlock()
	writeJSON(w, map[string]bool{"success": true})
}

func (s *Server) phoneNumbers(w http.ResponseWriter, r *http.Request, wabaID string) {
	if !s.grantedToken(w, r, wabaID) {
		return
	}
	start := 0
	if c := r.URL.Query().Get("after"); c != "" {
		b, _ := base64.RawURLEncoding.DecodeString(c)
		start, _ = strconv.Atoi(string(b))
	}
	s.mu.Lock()
	all := append([]PhoneNumber(nil), s.numbers[wabaID]...)
	s.mu.Unlock()
	start = min(max(start, 0), len(all))
	end := min(start+s.cfg.PageSize, len(all))
	page := append([]PhoneNumber{}, all[start:end]...)
	cursor := func(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }
	paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
	if end < len(all) {
		q := url.Values{"fields": {r.URL.Query().Get("fields")}, "after": {cursor(end)}}
		paging["next"] = s.URL + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, map[string]any{"data": page, "paging": paging})
}
