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

const (
	clientID     = "7d0c6b4e-client"
	clientSecret = "s3cr3t-Zq8vN2LmXw0pRt5YhK7jUe4aBc9dFg1iOs6"
	region       = "mypurecloud.de"
)

func newClient(t *testing.T, loginURL string, timeout time.Duration) *genesys.Client {
	t.Helper()
	c, err := genesys.NewClient(genesys.ClientConfig{LoginURL: loginURL, Timeout: timeout})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

func asError(t *testing.T, err error) *genesys.Error {
	t.Helper()
	var ge *genesys.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *genesys.Error", err, err)
	}
	if strings.Contains(err.Error(), clientSecret) {
		t.Errorf("error %q contains the client secret", err)
	}
	return ge
}

func TestFetchToken(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{ExpiresIn: 7200})
	fake.AddClient(clientID, clientSecret)
	tok, err := newClient(t, fake.URL, 0).FetchToken(context.Background(), region, clientID, clientSecret)
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
	fake.AddClient(clientID, "another-secret-entirely")
	_, err := newClient(t, fake.URL, 0).FetchToken(context.Background(), region, clientID, clientSecret)
	ge := asError(t, err)
	if ge.HTTPStatus != http.StatusUnauthorized || ge.Code != "invalid_client" || ge.Description != "client authentication failed" {
		t.Errorf("refusal = %+v", ge)
	}
	if !ge.Refused() || ge.Cached || ge.ContextID != fake.LastCorrelationID() {
		t.Errorf("refusal flags = %+v, correlation %s", ge, fake.LastCorrelationID())
	}
}

func TestFetchTokenUnavailable(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{})
	fake.AddClient(clientID, clientSecret)
	fake.Fail(genesystest.Failure{Status: http.StatusServiceUnavailable, Times: 1})
	c := newClient(t, fake.URL, 0)
	_, err := c.FetchToken(context.Background(), region, clientID, clientSecret)
	ge := asError(t, err)
	if ge.HTTPStatus != http.StatusServiceUnavailable || ge.Refused() || ge.ContextID == "" || ge.Description == "" {
		t.Errorf("503 = %+v", ge)
	}
	if _, err := c.FetchToken(context.Background(), region, clientID, clientSecret); err != nil {
		t.Errorf("after the failure: %v", err)
	}
}

func TestFetchTokenTimeout(t *testing.T) {
	fake := genesystest.NewServer(t, genesystest.Config{Delay: 5 * time.Second})
	fake.AddClient(clientID, clientSecret)
	_, err := newClient(t, fake.URL, 100*time.Millisecond).FetchToken(context.Background(), region, clientID, clientSecret)
	ge := asError(t, err)
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
	if _, err := c.FetchToken(context.Background(), region, clientID, clientSecret); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	r := rt.last
	if r.Method != http.MethodPost || r.URL.String() != "https://login."+region+"/oauth/token" {
		t.Errorf("request %s %s", r.Method, r.URL)
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != clientID || secret != clientSecret {
		t.Error("no Basic auth with the credentials")
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "grant_type=client_credentials" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("body %q, content type %q", body, r.Header.Get("Content-Type"))
	}

	rt.last = nil
	_, err = c.FetchToken(context.Background(), "evil.example.com", clientID, clientSecret)
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
