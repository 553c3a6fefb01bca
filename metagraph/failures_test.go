package metagraph_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tenant-service/metagraph"
	"tenant-service/metagraph/graphtest"
)

func TestServerErrors(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	c := newClient(t, g, metagraph.Config{})
	ctx := context.Background()

	g.Fail(graphtest.PhoneNumbers, graphtest.Failure{Times: 1, Status: 500, Code: 2, IsTransient: true,
		Message: "An unexpected error has occurred. Please retry your request later."})
	_, err := c.PhoneNumbers(ctx, testWABA, testToken)
	ge := graphErr(t, err, metagraph.StepPhoneNumbers)
	if ge.HTTPStatus != 500 || ge.Code != 2 || !ge.IsTransient || ge.FBTraceID != g.LastFBTraceID() {
		t.Errorf("HTTP 500: %+v", ge)
	}

	// An error page that is not Graph's JSON still gives a status and a trace id.
	g.Fail(graphtest.DebugToken, graphtest.Failure{Times: 1, Status: http.StatusBadGateway, Body: "<html>502</html>"})
	_, err = c.DebugToken(ctx, testToken)
	ge = graphErr(t, err, metagraph.StepDebugToken)
	if ge.HTTPStatus != http.StatusBadGateway || ge.Code != 0 || ge.Message == "" || ge.FBTraceID == "" {
		t.Errorf("HTML 502: %+v", ge)
	}

	g.Fail(graphtest.SubscribeApp, graphtest.Throttled())
	err = c.SubscribeApp(ctx, testWABA, testToken)
	if ge := graphErr(t, err, metagraph.StepSubscribeApp); !ge.Throttled() {
		t.Errorf("throttled: %+v", ge)
	}
	g.ClearFailures()
	if err := c.SubscribeApp(ctx, testWABA, testToken); err != nil {
		t.Errorf("after ClearFailures: %v", err)
	}
}

func TestSuccessStatusWithUnexpectedBody(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	g.Fail(graphtest.ExchangeCode, graphtest.Failure{Status: http.StatusOK, Body: "not json"})
	c := newClient(t, g, metagraph.Config{})
	_, err := c.ExchangeCode(context.Background(), testCode)
	ge := graphErr(t, err, metagraph.StepExchangeCode)
	if ge.HTTPStatus != http.StatusOK || ge.Err == nil {
		t.Errorf("undecodable answer: %+v", ge)
	}
	noSecrets(t, err, testCode, g.AppSecret())
}

// assertTimeout checks a timeout is an *Error that names no secret.
func assertTimeout(t *testing.T, err error, step string, secrets ...string) {
	t.Helper()
	ge := graphErr(t, err, step)
	if !ge.Timeout() || ge.HTTPStatus != 0 || !ge.IsTransient || ge.Message == "" {
		t.Errorf("timeout error: %+v", ge)
	}
	noSecrets(t, err, secrets...)
}

func TestTimeouts(t *testing.T) {
	g := graphtest.NewServer(t, graphtest.Config{})
	g.Onboard(testCode, testToken, testWABA)
	g.Fail(graphtest.ExchangeCode, graphtest.Slow(5*time.Second))
	g.Fail(graphtest.DebugToken, graphtest.Slow(5*time.Second))
	g.Fail(graphtest.SubscribeApp, graphtest.Slow(5*time.Second))

	// The client's own per-request timeout.
	c := newClient(t, g, metagraph.Config{Timeout: 100 * time.Millisecond})
	_, err := c.ExchangeCode(context.Background(), testCode)
	assertTimeout(t, err, metagraph.StepExchangeCode, testCode, g.AppSecret())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout does not unwrap to context.DeadlineExceeded: %v", err)
	}

	// The caller's context.
	c = newClient(t, g, metagraph.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.DebugToken(ctx, testToken)
	assertTimeout(t, err, metagraph.StepDebugToken, testToken, g.AppSecret(), g.AppID()+"|")

	// An injected http.Client with a short timeout.
	c = newClient(t, g, metagraph.Config{HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	err = c.SubscribeApp(context.Background(), testWABA, testToken)
	assertTimeout(t, err, metagraph.StepSubscribeApp, testToken)
}

func TestUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c, err := metagraph.NewClient(metagraph.Config{BaseURL: dead.URL, AppID: "1", AppSecret: "app-secret-xyz"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ExchangeCode(context.Background(), testCode)
	ge := graphErr(t, err, metagraph.StepExchangeCode)
	if ge.HTTPStatus != 0 || ge.Timeout() || ge.Err == nil {
		t.Errorf("unreachable: %+v", ge)
	}
	noSecrets(t, err, testCode, "app-secret-xyz")
}
