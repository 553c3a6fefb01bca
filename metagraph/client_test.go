package metagraph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
)

const (
	testCode  = "AQDx-signup-code-0123456789"
	testToken = "EAAGtesttoken0123456789abcdef"
	testWABA  = "102290129340398"
)

// newClient returns a client pointed at the fake, with cfg's non-zero fields.
func newClient(t *testing.T, g *graphtest.Server, cfg metagraph.Config) *metagraph.Client {
	t.Helper()
	cfg.BaseURL = g.URL
	cfg.Version = g.Version()
	cfg.AppID = g.AppID()
	if cfg.AppSecret == "" {
		cfg.AppSecret = g.AppSecret()
	}
	c, err := metagraph.NewClient(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// graphErr asserts err is a *metagraph.Error of the step and returns it.
func graphErr(t *testing.T, err error, step string) *metagraph.Error {
	t.Helper()
	ge, ok := metagraph.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *metagraph.Error", err, err)
	}
	if ge.Step != step {
		t.Fatalf("step = %q, want %q", ge.Step, step)
	}
	return ge
}

// noSecrets fails when the error's text contains any of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, "client_secret", "input_token") {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err.Error(), s)
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := metagraph.Config{BaseURL: "ftp://x", Version: "25", Timeout: -1}.Validate()
	if err == nil {
		t.Fatal("invalid config passed")
	}
	for _, want := range []string{"base URL", "version", "app id", "app secret", "timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if err := (metagraph.Config{AppID: "1", AppSecret: "s"}).Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestExchangeCode(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.AddCode(testCode, graphtest.Token{Value: testToken, WABAs: []string{testWABA}, ExpiresIn: 5184000})
	c := newClient(t, g, metagraph.Config{})

	tok, err := c.ExchangeCode(context.Background(), testCode)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken != testToken || tok.ExpiresIn != 5184000 || tok.TokenType != "bearer" {
		t.Errorf("token = %+v", tok)
	}

	// Codes are single-use.
	_, err = c.ExchangeCode(context.Background(), testCode)
	ge := graphErr(t, err, metagraph.StepExchangeCode)
	if ge.Code != 100 || ge.Subcode != 36009 || ge.HTTPStatus != http.StatusBadRequest {
		t.Errorf("reused code: %+v", ge)
	}
	noSecrets(t, err, testCode, g.AppSecret(), testToken)
	if g.Calls(graphtest.ExchangeCode) != 2 {
		t.Errorf("calls = %d, want 2", g.Calls(graphtest.ExchangeCode))
	}
}

func TestExchangeBadCodeCarriesMetaError(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	c := newClient(t, g, metagraph.Config{})
	_, err := c.ExchangeCode(context.Background(), "unknown-code-123")
	ge := graphErr(t, err, metagraph.StepExchangeCode)
	if ge.Code != 100 || ge.Type != "OAuthException" || ge.Message == "" {
		t.Errorf("error = %+v", ge)
	}
	if ge.FBTraceID == "" || ge.FBTraceID != g.LastFBTraceID() {
		t.Errorf("fbtrace_id = %q, server sent %q", ge.FBTraceID, g.LastFBTraceID())
	}
	if !strings.Contains(err.Error(), ge.FBTraceID) {
		t.Errorf("error string %q lacks the fbtrace_id", err)
	}
	noSecrets(t, err, "unknown-code-123", g.AppSecret())
}

func TestExchangeWithWrongSecret(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.AddCode(testCode, graphtest.Token{Value: testToken})
	c := newClient(t, g, metagraph.Config{AppSecret: "wrong-app-secret-value"})
	_, err := c.ExchangeCode(context.Background(), testCode)
	ge := graphErr(t, err, metagraph.StepExchangeCode)
	if ge.Code != 1 {
		t.Errorf("code = %d, want 1", ge.Code)
	}
	noSecrets(t, err, "wrong-app-secret-value", testCode)

	if _, err := c.ExchangeCode(context.Background(), ""); !errors.Is(err, metagraph.ErrInvalidArgument) {
		t.Errorf("empty code: %v", err)
	}
}

func TestDebugToken(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	expires := time.Now().Add(60 * 24 * time.Hour).Truncate(time.Second).UTC()
	g.AddToken(graphtest.Token{Value: testToken, WABAs: []string{"222", testWABA}})
	g.AddToken(graphtest.Token{Value: "EAAexpiring", ExpiresAt: expires.Unix(), AppID: "999"})
	c := newClient(t, g, metagraph.Config{})

	ti, err := c.DebugToken(context.Background(), testToken)
	if err != nil {
		t.Fatalf("debug token: %v", err)
	}
	if ti.AppID != g.AppID() || !ti.IsValid || !ti.ExpiresAt.IsZero() {
		t.Errorf("info = %+v", ti)
	}
	if got := ti.GrantedWABAs(); len(got) != 2 || got[0] != "222" || got[1] != testWABA {
		t.Errorf("granted = %v", got)
	}
	if !ti.Grants(testWABA) || ti.Grants("333") || ti.Grants("") {
		t.Error("Grants disagrees with the granted list")
	}

	ti, err = c.DebugToken(context.Background(), "EAAexpiring")
	if err != nil {
		t.Fatalf("debug token: %v", err)
	}
	if !ti.ExpiresAt.Equal(expires) || ti.AppID != "999" || len(ti.GrantedWABAs()) != 0 {
		t.Errorf("expiring info = %+v", ti)
	}

	ti, err = c.DebugToken(context.Background(), "EAAnotatoken")
	if err != nil {
		t.Fatalf("unknown token is not an error: %v", err)
	}
	if ti.IsValid || ti.Error == nil || ti.Error.Code != 190 {
		t.Errorf("unknown token info = %+v", ti)
	}
}

func TestDebugTokenWithBadAppToken(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.AddToken(graphtest.Token{Value: testToken})
	c := newClient(t, g, metagraph.Config{AppSecret: "not-the-app-secret"})
	_, err := c.DebugToken(context.Background(), testToken)
	ge := graphErr(t, err, metagraph.StepDebugToken)
	if !ge.TokenInvalid() || ge.FBTraceID == "" {
		t.Errorf("error = %+v", ge)
	}
	noSecrets(t, err, "not-the-app-secret", testToken)
}
