package metagraph

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"tenant-service/internal/redact"
)

// Scopes a WhatsApp business token is granted, as debug_token names them.
const (
	ScopeWhatsAppBusinessManagement = "whatsapp_business_management"
	ScopeWhatsAppBusinessMessaging  = "whatsapp_business_messaging"
)

// Token is a business token from the code exchange. The token is opaque:
// never parse it, log it or put it in an error.
type Token struct {
	AccessToken string
	TokenType   string // usually "bearer"
	ExpiresIn   int    // seconds; 0 when Meta does not say (often: never expires)
}

// ExchangeCode trades an Embedded Signup code for a business token:
// GET /{v}/oauth/access_token?client_id&client_secret&code. Codes are
// single-use and short-lived, so call it at once and never retry it blindly.
func (c *Client) ExchangeCode(ctx context.Context, code string) (Token, error) {
	if code == "" {
		return Token{}, fmt.Errorf("exchange code: %w: empty code", ErrInvalidArgument)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err := c.do(ctx, request{
		step: StepExchangeCode, method: "GET", path: "/oauth/access_token",
		query:   url.Values{"client_id": {c.appID}, "client_secret": {c.appSecret}, "code": {code}},
		secrets: []string{code},
	}, &out)
	if err != nil {
		return Token{}, err
	}
	if out.AccessToken == "" {
		return Token{}, &Error{Step: StepExchangeCode, HTTPStatus: 200,
			Message: "the Meta Graph API answered without an access token"}
	}
	return Token{AccessToken: out.AccessToken, TokenType: out.TokenType, ExpiresIn: out.ExpiresIn}, nil
}

// GranularScope is one permission and the objects (e.g. WABA ids, newest
// first) it covers.
type GranularScope struct {
	Scope     string
	TargetIDs []string
}

// TokenError is why debug_token considers a token invalid, when it says.
type TokenError struct {
	Code    int
	Subcode int
	Message string
}

// TokenInfo is what debug_token tells about a token.
type TokenInfo struct {
	AppID               string // must equal the app's id before the token is trusted
	Type                string // e.g. "USER", "SYSTEM_USER"
	Application         string
	UserID              string
	IsValid             bool
	ExpiresAt           time.Time // zero: never expires (Meta sends 0)
	DataAccessExpiresAt time.Time // zero when not sent
	Scopes              []string
	GranularScopes      []GranularScope
	Error               *TokenError // set when Meta explains an invalid token
}

// GrantedWABAs returns the WhatsApp Business Account ids the token may manage
// (the target_ids of whatsapp_business_management), newest first.
func (ti TokenInfo) GrantedWABAs() []string {
	for _, g := range ti.GranularScopes {
		if g.Scope == ScopeWhatsAppBusinessManagement {
			return slices.Clone(g.TargetIDs)
		}
	}
	return nil
}

// Grants reports whether the token may manage the WhatsApp Business Account.
func (ti TokenInfo) Grants(wabaID string) bool {
	return wabaID != "" && slices.Contains(ti.GrantedWABAs(), wabaID)
}

// DebugToken asks Meta what the token is and what it was granted:
// GET /{v}/debug_token?input_token=… with the app token APP_ID|APP_SECRET as
// bearer. An invalid token is not an error: IsValid is false.
func (c *Client) DebugToken(ctx context.Context, token string) (TokenInfo, error) {
	if token == "" {
		return TokenInfo{}, fmt.Errorf("debug token: %w: empty token", ErrInvalidArgument)
	}
	var out struct {
		Data *struct {
			AppID               string   `json:"app_id"`
			Type                string   `json:"type"`
			Application         string   `json:"application"`
			UserID              string   `json:"user_id"`
			IsValid             bool     `json:"is_valid"`
			ExpiresAt           int64    `json:"expires_at"`
			DataAccessExpiresAt int64    `json:"data_access_expires_at"`
			Scopes              []string `json:"scopes"`
			GranularScopes      []struct {
				Scope     string   `json:"scope"`
				TargetIDs []string `json:"target_ids"`
			} `json:"granular_scopes"`
			Error *struct {
				Code    int    `json:"code"`
				Subcode int    `json:"subcode"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"data"`
	}
	err := c.do(ctx, request{
		step: StepDebugToken, method: "GET", path: "/debug_token",
		query: url.Values{"input_token": {token}}, bearer: c.appToken(), secrets: []string{token},
	}, &out)
	if err != nil {
		return TokenInfo{}, err
	}
	d := out.Data
	if d == nil {
		return TokenInfo{}, &Error{Step: StepDebugToken, HTTPStatus: 200,
			Message: "the Meta Graph API answered debug_token without data"}
	}
	ti := TokenInfo{AppID: d.AppID, Type: d.Type, Application: d.Application, UserID: d.UserID,
		IsValid: d.IsValid, Scopes: d.Scopes,
		ExpiresAt: unixOrZero(d.ExpiresAt), DataAccessExpiresAt: unixOrZero(d.DataAccessExpiresAt)}
	for _, g := range d.GranularScopes {
		ti.GranularScopes = append(ti.GranularScopes, GranularScope{Scope: g.Scope, TargetIDs: g.TargetIDs})
	}
	if d.Error != nil {
		ti.Error = &TokenError{Code: d.Error.Code, Subcode: d.Error.Subcode,
			Message: redact.Scrub(d.Error.Message, token, c.appSecret)}
	}
	return ti, nil
}

func unixOrZero(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
