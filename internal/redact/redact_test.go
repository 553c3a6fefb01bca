package redact

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestWrapRedactsURLAndSecrets(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "https://u:p@graph.example/v25.0/oauth/access_token?client_secret=s3cret-app&code=c0de-123",
		Err: context.DeadlineExceeded}
	w := Wrap(err, "s3cret-app", "c0de-123", "EAA-token-xyz")
	for _, leak := range []string{"s3cret-app", "c0de-123", "u:p", "client_secret"} {
		if strings.Contains(w.Error(), leak) {
			t.Fatalf("%q leaks %q", w.Error(), leak)
		}
	}
	if !errors.Is(w, context.DeadlineExceeded) {
		t.Fatal("the cause is lost")
	}
	if got := Scrub("token EAA-token-xyz and abc", "EAA-token-xyz", "abc"); got != "token [redacted] and abc" {
		t.Fatalf("Scrub = %q", got)
	}
}
