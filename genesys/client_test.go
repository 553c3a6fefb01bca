package genesys_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"tenant-service/genesys"
	"tenant-service/genesys/genesystest"
)

func TestFetchToken(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{ExpiresIn: 7200})
	fake.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	tok, err := genesystest.NewClient(t, fake.URL, 0).FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	issued := fake.Issued()
	if len(issued) != 1 || tok.AccessToken != issued[0] || tok.TokenType != "bearer" || tok.ExpiresIn != 7200 {
		t.Errorf("token = %+v, issued %v", tok, issued)
	}
}

func TestFetchTokenRefused(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{})
	fake.AddClient(genesystest.ClientID, "another-secret-entirely")
	_, err := genesystest.NewClient(t, fake.URL, 0).FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret)
	ge := genesystest.AsError(t, err, genesystest.ClientSecret)
	if ge.HTTPStatus != http.StatusUnauthorized || ge.Code != "invalid_client" || ge.Description != "client authentication failed" {
		t.Errorf("refusal = %+v", ge)
	}
	if !ge.Refused() || ge.Cached || ge.ContextID != fake.LastCorrelationID() {
		t.Errorf("refusal flags = %+v, correlation %s", ge, fake.LastCorrelationID())
	}
}

func TestFetchTokenUnavailable(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{})
	fake.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	fake.Fail(genesystest.Failure{Status: http.StatusServiceUnavailable, Times: 1})
	c := genesystest.NewClient(t, fake.URL, 0)
	_, err := c.FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret)
	ge := genesystest.AsError(t, err, genesystest.ClientSecret)
	if ge.HTTPStatus != http.StatusServiceUnavailable || ge.Refused() || ge.ContextID == "" || ge.Description == "" {
		t.Errorf("503 = %+v", ge)
	}
	if _, err := c.FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret); err != nil {
		t.Errorf("after the failure: %v", err)
	}
}

func TestFetchTokenTimeout(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{Delay: 5 * time.Second})
	fake.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	_, err := genesystest.NewClient(t, fake.URL, 100*time.Millisecond).FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret)
	ge := genesystest.AsError(t, err, genesystest.ClientSecret)
	if !ge.Timeout() || ge.HTTPStatus != 0 || ge.Refused() || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout = %+v", ge)
	}
}

// roundTripper answers every request itself and keeps the last one.
type roundTripper struct{ last *http.Request }

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.last = r
	return &http.Response{StatusCode: 200, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"access_token":"tok","token_type":"bearer","expires_in":86400}`))}, nil
}

func TestFetchTokenRequestShape(t *testing.T) {
	rt := &roundTripper{}
	c, err := genesys.NewClient(genesys.ClientConfig{HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchToken(context.Background(), genesystest.Region, genesystest.ClientID, genesystest.ClientSecret); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	r := rt.last
	if r.Method != http.MethodPost || r.URL.String() != "https://login."+genesystest.Region+"/oauth/token" {
		t.Errorf("request %s %s", r.Method, r.URL)
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != genesystest.ClientID || secret != genesystest.ClientSecret {
		t.Error("no Basic auth with the credentials")
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "grant_type=client_credentials" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("body %q, content type %q", body, r.Header.Get("Content-Type"))
	}

	rt.last = nil
	_, err = c.FetchToken(context.Background(), "evil.example.com", genesystest.ClientID, genesystest.ClientSecret)
	if !errors.Is(err, genesys.ErrUnknownRegion) || rt.last != nil {
		t.Errorf("unknown region: %v, request sent: %v", err, rt.last != nil)
	}
}

func TestClientConfigValidate(t *testing.T) {
	err := genesys.ClientConfig{LoginURL: "login.mypurecloud.de", Timeout: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "login URL") || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("validate = %v", err)
	}
}
