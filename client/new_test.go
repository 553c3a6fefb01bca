package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/client"
	"tenant-service/client/internal/servicetest"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	err := client.Config{MaxEntries: -1, RequestTimeout: -time.Second, AMQPURL: "not a url"}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"BaseURL", "APIKey", "AMQPURL", "MaxEntries", "RequestTimeout"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("%q does not name %s", err, field)
		}
	}
	if _, err := client.New(bg(), client.Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
}

// TestNewWaitsForTheExchange starts a client before the service ever
// declared its exchange (nothing answers at BaseURL either): New waits, and
// returns once the exchange exists; the client then applies what is
// published on it.
func TestNewWaitsForTheExchange(t *testing.T) {
	broker := servicetest.AMQPURL(t)
	exchange := servicetest.Name("client.test.later.")
	type result struct {
		c   *client.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(bg(), 20*time.Second)
		defer cancel()
		c, err := client.New(ctx, client.Config{BaseURL: "http://127.0.0.1:9", APIKey: servicetest.ServiceKey,
			AMQPURL: broker, Exchange: exchange, RequestTimeout: 200 * time.Millisecond})
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("New returned before the exchange existed: %v", r.err)
	case <-time.After(300 * time.Millisecond):
	}
	servicetest.DeclareExchange(t, broker, exchange)
	var c *client.Client
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		c = r.c
		t.Cleanup(func() { _ = c.Close() })
	case <-time.After(10 * time.Second):
		t.Fatal("New did not return after the exchange appeared")
	}

	// Play the service: an event with string headers, then one whose body
	// alone says which tenant and position.
	publish(t, broker, exchange, "tenant.tenant_updated", amqp.Table{
		"event_type": "TenantUpdated", "tenant_id": "t-1", "stream_version": "2", "global_position": "41",
	}, `{"tenantId":"t-1","type":"TenantUpdated","version":2,"position":41,"data":{"name":"x"}}`)
	publish(t, broker, exchange, "tenant.waba_linked", nil,
		`{"tenantId":"t-2","type":"WABALinked","version":5,"position":42,"data":{"phoneNumberId":"123","wabaId":"9"}}`)
	eventually(t, within, func() error {
		if p := c.Stats().Position; p != 42 {
			return errors.New("events not applied yet")
		}
		return nil
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.ByPhoneNumber(bg(), "5511955550001"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("lookup after Close: %v, want ErrClosed", err)
	}
	if s := c.State(); s != client.StateClosed {
		t.Fatalf("state %s after Close", s)
	}
}

func publish(t *testing.T, broker, exchange, key string, headers amqp.Table, body string) {
	t.Helper()
	conn, err := amqp.Dial(broker)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	err = ch.PublishWithContext(bg(), exchange, key, false, false, amqp.Publishing{
		Headers: headers, ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewGivesUpWhenItsContextEnds(t *testing.T) {
	broker := servicetest.AMQPURL(t)
	ctx, cancel := context.WithTimeout(bg(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.New(ctx, client.Config{BaseURL: "http://127.0.0.1:9", APIKey: servicetest.ServiceKey,
		AMQPURL: broker, Exchange: servicetest.Name("client.test.never.")})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "exchange") {
		t.Fatalf("New without an exchange: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("New took %s to give up after a 400ms context", took)
	}
}

func TestNewFailsWhenTheBrokerRefusesTheCredentials(t *testing.T) {
	u, err := url.Parse(servicetest.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	bad := u.String()
	ctx, cancel := context.WithTimeout(bg(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = client.New(ctx, client.Config{BaseURL: "http://127.0.0.1:9", APIKey: servicetest.ServiceKey,
		AMQPURL: bad, Exchange: "tenant.events"})
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("New with wrong credentials: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("New took %s to report refused credentials", took)
	}
}

// TestAClientStartedWithoutTheFeedFindsItLater: New succeeds while the
// service refuses its event feed; lookups still work (from PostgreSQL), and
// once the feed answers the client takes its head as its start.
func TestAClientStartedWithoutTheFeedFindsItLater(t *testing.T) {
	svc := servicetest.Start(t)
	a := svc.CreateTenant("early")
	g := newGate(t, svc)
	g.blockFeed.Store(true)
	c := newClient(t, svc, func(cfg *client.Config) {
		cfg.BaseURL, cfg.ReconcileInterval = g.URL, 200*time.Millisecond
	})
	if s := c.Stats().Synced; s != -1 {
		t.Fatalf("synced position %d with the feed refused", s)
	}
	if err := resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "early")(); err != nil {
		t.Fatal(err)
	}
	svc.Rename(a.TenantID, "later")
	eventually(t, within, resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "later"))
	g.blockFeed.Store(false)
	head := svc.Head()
	eventually(t, within, func() error {
		if s := c.Stats().Synced; s < head {
			return fmt.Errorf("synced position %d, head %d", s, head)
		}
		return nil
	})
	eventually(t, within, resolvesTo(c.ByTenant, a.TenantID, a.TenantID, "later"))
}
