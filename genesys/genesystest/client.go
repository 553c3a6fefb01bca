package genesystest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"tenant-service/genesys"
)

// Test credentials: a client registered with AddClient(ClientID,
// ClientSecret) and a real region domain.
const (
	ClientID     = "7d0c6b4e-client"
	ClientSecret = "s3cr3t-Zq8vN2LmXw0pRt5YhK7jUe4aBc9dFg1iOs6"
	Region       = "mypurecloud.de"
)

// NewClient is a genesys.Client for the fake at loginURL; it fails the test
// when the configuration is refused.
func NewClient(t testing.TB, loginURL string, timeout time.Duration) *genesys.Client {
	t.Helper()
	c, err := genesys.NewClient(genesys.ClientConfig{LoginURL: loginURL, Timeout: timeout})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// AsError returns err as a *genesys.Error, failing the test when it is not
// one or when its message shows secret.
func AsError(t testing.TB, err error, secret string) *genesys.Error {
	t.Helper()
	var ge *genesys.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *genesys.Error", err, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q contains the client secret", err)
	}
	return ge
}
