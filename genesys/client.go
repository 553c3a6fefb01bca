package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tenant-service/domain"

	"tenant-service/internal/redact"
)

// DefaultTimeout is the default of ClientConfig.Timeout.
const DefaultTimeout = 10 * time.Second

// maxBody bounds how much of an answer is read.
const maxBody = 64 << 10

// ClientConfig configures a Client.
type ClientConfig struct {
	// LoginURL replaces https://login.{region} (GENESYS_LOGIN_URL); tests
	// point it at a genesystest.Server. Default empty: derive it from the
	// region, which must then be a known Genesys Cloud region domain.
	LoginURL string
	// Timeout bounds each token request. Default DefaultTimeout (10 s).
	Timeout time.Duration
	// HTTPClient sends the requests. Default: a client that does not follow
	// redirects (they would carry the Basic credentials elsewhere).
	HTTPClient *http.Client
}

// Validate reports every problem with the configuration.
func (c ClientConfig) Validate() error {
	var errs []error
	if c.LoginURL != "" {
		if u, err := url.Parse(c.LoginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("genesys: login URL must be an absolute http(s) URL"))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("genesys: timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Token is a Genesys Cloud access token. Never log it.
type Token struct {
	AccessToken string
	TokenType   string // "bearer"
	ExpiresIn   int    // seconds left: as issued from FetchToken, remaining from Provider.Token
}

// Client fetches client-credentials tokens. It is safe for concurrent use.
type Client struct {
	loginURL string
	timeout  time.Duration
	http     *http.Client
}

// NewClient returns a Client for the configuration.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Client{loginURL: strings.TrimRight(cfg.LoginURL, "/"), timeout: cfg.Timeout, http: hc}, nil
}

// ErrUnknownRegion reports a region that is not a Genesys Cloud region
// domain; credentials are never sent to other hosts.
var ErrUnknownRegion = errors.New("genesys: unknown region")

// tokenURL returns where to ask for a token.
func (c *Client) tokenURL(region string) (string, error) {
	if c.loginURL != "" {
		return c.loginURL + "/oauth/token", nil
	}
	if !domain.IsGenesysRegion(region) {
		return "", fmt.Errorf("%w %q", ErrUnknownRegion, region)
	}
	return "https://login." + region + "/oauth/token", nil
}

// FetchToken asks Genesys Cloud for a token with the client credentials
// grant: POST /oauth/token, Basic auth, grant_type=client_credentials. A
// refusal or a failure to get an answer is an *Error.
func (c *Client) FetchToken(ctx context.Context, region, clientID, clientSecret string) (Token, error) {
	target, err := c.tokenURL(region)
	if err != nil {
		return Token{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("genesys token request: %s", redact.Scrub(err.Error(), clientSecret))
	}
	req.SetBasicAuth(clientID, clientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Token{}, transportError(err, clientSecret)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Token{}, transportError(err, clientSecret)
	}
	correlation := resp.Header.Get("ININ-Correlation-Id")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Token{}, refusal(resp.StatusCode, body, correlation, clientSecret)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return Token{}, &Error{HTTPStatus: resp.StatusCode, ContextID: correlation,
			Description: "Genesys Cloud answered without an access token"}
	}
	return Token{AccessToken: out.AccessToken, TokenType: out.TokenType, ExpiresIn: out.ExpiresIn}, nil
}
