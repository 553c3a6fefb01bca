package metagraph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
)

func TestSubscribeApp(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	c := newClient(t, g, metagraph.Config{})
	if err := c.SubscribeApp(context.Background(), testWABA, testToken); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if g.Subscribed(testWABA) != 1 {
		t.Errorf("subscriptions = %d, want 1", g.Subscribed(testWABA))
	}
}

func TestSubscribeAppFailures(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	c := newClient(t, g, metagraph.Config{})
	ctx := context.Background()

	g.Fail(graphtest.SubscribeApp, graphtest.Failure{Times: 1, Status: http.StatusForbidden, Code: 200,
		Message: "(#200) Permissions error"})
	err := c.SubscribeApp(ctx, testWABA, testToken)
	ge := graphErr(t, err, metagraph.StepSubscribeApp)
	if ge.Code != 200 || ge.HTTPStatus != http.StatusForbidden || ge.FBTraceID != g.LastFBTraceID() {
		t.Errorf("refused: %+v", ge)
	}
	noSecrets(t, err, testToken, g.AppSecret())

	// A WABA the token was not granted.
	err = c.SubscribeApp(ctx, "555000111", testToken)
	if ge := graphErr(t, err, metagraph.StepSubscribeApp); ge.Code != 100 || ge.Subcode != 33 {
		t.Errorf("not granted: %+v", ge)
	}
	// A revoked token.
	err = c.SubscribeApp(ctx, testWABA, "EAArevoked")
	if ge := graphErr(t, err, metagraph.StepSubscribeApp); !ge.TokenInvalid() {
		t.Errorf("revoked token: %+v", ge)
	}
	if g.Subscribed(testWABA) != 0 {
		t.Errorf("a failed call subscribed")
	}

	calls := g.Calls(graphtest.SubscribeApp)
	for _, id := range []string{"", "../me", "12a", "1234567890123456789012345678901234"} {
		if err := c.SubscribeApp(ctx, id, testToken); !errors.Is(err, metagraph.ErrInvalidArgument) {
			t.Errorf("WABA id %q: %v", id, err)
		}
	}
	if err := c.SubscribeApp(ctx, testWABA, ""); !errors.Is(err, metagraph.ErrInvalidArgument) {
		t.Errorf("empty token: %v", err)
	}
	if g.Calls(graphtest.SubscribeApp) != calls {
		t.Error("invalid arguments reached Meta")
	}
}

func numbers(n int) []graphtest.PhoneNumber {
	var out []graphtest.PhoneNumber
	for i := range n {
		out = append(out, graphtest.PhoneNumber{ID: fmt.Sprintf("10654035224%04d", i),
			DisplayPhoneNumber: fmt.Sprintf("+1 555-078-%04d", i), VerifiedName: "Acme",
			QualityRating: "GREEN", CodeVerificationStatus: "VERIFIED"})
	}
	return out
}

func TestPhoneNumbersFollowsPaging(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{PageSize: 2})
	want := numbers(5)
	g.Onboard(testCode, testToken, testWABA, want...)
	c := newClient(t, g, metagraph.Config{})
	got, err := c.PhoneNumbers(context.Background(), testWABA, testToken)
	if err != nil {
		t.Fatalf("phone numbers: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d numbers, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		if got[i] != (metagraph.PhoneNumber{ID: w.ID, DisplayPhoneNumber: w.DisplayPhoneNumber,
			VerifiedName: w.VerifiedName, QualityRating: w.QualityRating, CodeVerificationStatus: w.CodeVerificationStatus}) {
			t.Errorf("number %d = %+v, want %+v", i, got[i], w)
		}
	}
	if n := g.Calls(graphtest.PhoneNumbers); n != 3 {
		t.Errorf("pages read = %d, want 3", n)
	}
}

func TestPhoneNumbersStopsAtMaxPages(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{PageSize: 2})
	g.Onboard(testCode, testToken, testWABA, numbers(7)...)
	c := newClient(t, g, metagraph.Config{MaxPages: 2})
	got, err := c.PhoneNumbers(context.Background(), testWABA, testToken)
	if err != nil {
		t.Fatalf("phone numbers: %v", err)
	}
	if len(got) != 4 || g.Calls(graphtest.PhoneNumbers) != 2 {
		t.Errorf("got %d numbers in %d calls, want 4 in 2", len(got), g.Calls(graphtest.PhoneNumbers))
	}
}

func TestPhoneNumbersEmptyAndRefused(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	c := newClient(t, g, metagraph.Config{})
	got, err := c.PhoneNumbers(context.Background(), testWABA, testToken)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty WABA: %v, %v", got, err)
	}
	_, err = c.PhoneNumbers(context.Background(), "777", testToken)
	if ge := graphErr(t, err, metagraph.StepPhoneNumbers); ge.Code != 100 || ge.Type != "GraphMethodException" {
		t.Errorf("not granted: %+v", ge)
	}
	noSecrets(t, err, testToken)
}
