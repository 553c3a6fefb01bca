package messaging

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
)

// topology gives a test its own exchange and deletes it and the test's
// queues afterwards.
type topology struct {
	url      string
	exchange string
	queues   []string
}

func newTopology(t testing.TB) *topology {
	t.Helper()
	tp := &topology{url: testenv.AMQPURL(t), exchange: testenv.Name("test.events.")}
	t.Cleanup(func() {
		conn, err := amqp.Dial(tp.url)
		if err != nil {
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		for _, q := range tp.queues {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
		_ = ch.ExchangeDelete(tp.exchange, false, false)
	})
	return tp
}

// queueName returns a unique queue name, deleted at cleanup.
func (tp *topology) queueName() string {
	q := testenv.Name("test.q.")
	tp.queues = append(tp.queues, q)
	return q
}

// relay starts a relay on the test exchange (through amqpURL when given).
func (tp *topology) relay(t testing.TB, amqpURL string, cfg RelayConfig) *Relay {
	t.Helper()
	if amqpURL == "" {
		amqpURL = tp.url
	}
	cfg.Exchange = tp.exchange
	r, err := NewRelay(amqpURL, testkit.Logger(), cfg)
	if err != nil {
		t.Fatalf("new relay: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// waitReady waits (bounded) until the relay is connected.
func waitReady(t testing.TB, r *Relay) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, r.Ready)
}

// viaProxy returns the AMQP URL with its host replaced by addr.
func viaProxy(t testing.TB, amqpURL, addr string) string {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("parse %s: %v", amqpURL, err)
	}
	u.Host = addr
	return u.String()
}

// tap is a raw consumer on its own queue, to inspect messages as the broker
// delivers them.
type tap struct {
	ch         *amqp.Channel
	queue      string
	deliveries <-chan amqp.Delivery
}

func (tp *topology) tap(t testing.TB, keys ...string) *tap {
	t.Helper()
	return tp.tapQueue(t, tp.queueName(), keys...)
}

// passiveTap is a tap on an exchange that exists already, declared with
// other arguments than a plain declaration would pass.
func (tp *topology) passiveTap(t testing.TB, keys ...string) *tap {
	t.Helper()
	return tp.tapWith(t, tp.queueName(), func(ch *amqp.Channel, queue string) error {
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return err
		}
		for _, k := range keys {
			if err := ch.QueueBind(queue, k, tp.exchange, false, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (tp *topology) tapQueue(t testing.TB, queue string, keys ...string) *tap {
	t.Helper()
	return tp.tapWith(t, queue, func(ch *amqp.Channel, queue string) error {
		return declareQueue(ch, tp.exchange, queue, keys)
	})
}

func (tp *topology) tapWith(t testing.TB, queue string, declare func(ch *amqp.Channel, queue string) error) *tap {
	t.Helper()
	conn, err := amqp.Dial(tp.url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	if err := declare(ch, queue); err != nil {
		t.Fatalf("declare tap queue: %v", err)
	}
	d, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	return &tap{ch: ch, queue: queue, deliveries: d}
}

// take returns the next n deliveries, failing the test after a generous wait.
func (tp *tap) take(t testing.TB, n int) []amqp.Delivery {
	t.Helper()
	out := make([]amqp.Delivery, 0, n)
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for len(out) < n {
		select {
		case d, ok := <-tp.deliveries:
			if !ok {
				t.Fatalf("tap %s closed after %d of %d messages", tp.queue, len(out), n)
			}
			out = append(out, d)
		case <-timeout.C:
			t.Fatalf("tap %s: %d of %d messages after 30s", tp.queue, len(out), n)
		}
	}
	return out
}

// takeAll returns deliveries until every event of want was delivered at
// least once (a retried batch adds duplicates), after those already taken,
// failing the test after a generous wait. Waiting for the events rather
// than for a quiet spell keeps a slow consumer from missing some.
func (tp *tap) takeAll(t testing.TB, want []domain.StoredEvent, already ...amqp.Delivery) []amqp.Delivery {
	t.Helper()
	missing := make(map[string]bool, len(want))
	for _, e := range want {
		missing[e.EventID] = true
	}
	out := append([]amqp.Delivery(nil), already...)
	for _, d := range out {
		delete(missing, d.MessageId)
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for len(missing) > 0 {
		select {
		case d, ok := <-tp.deliveries:
			if !ok {
				t.Fatalf("tap %s closed with %d of %d events delivered", tp.queue, len(want)-len(missing), len(want))
			}
			out = append(out, d)
			delete(missing, d.MessageId)
		case <-timeout.C:
			t.Fatalf("tap %s: %d of %d events delivered after 30s", tp.queue, len(want)-len(missing), len(want))
		}
	}
	return out
}

// publishRaw publishes a message to the exchange outside the relay.
func (tp *topology) publishRaw(t testing.TB, key string, msg amqp.Publishing) {
	t.Helper()
	conn, err := amqp.Dial(tp.url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, tp.exchange, key, false, false, msg)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ok, err := dc.WaitContext(ctx); !ok || err != nil {
		t.Fatalf("publish not confirmed: %v", err)
	}
}

// handle runs relay.Handle with a bounded context.
func handle(r *Relay, events []domain.StoredEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.Handle(ctx, events)
}

func mustHandle(t testing.TB, r *Relay, events []domain.StoredEvent) {
	t.Helper()
	if err := handle(r, events); err != nil {
		t.Fatalf("handle %d events: %v", len(events), err)
	}
}

// checkTenantOrder checks that, counting each event id once (its first
// delivery), every tenant's versions arrive as 1, 2, 3, ... and that every
// expected event arrived.
func checkTenantOrder(t testing.TB, deliveries []amqp.Delivery, want []domain.StoredEvent) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]int{}
	for _, d := range deliveries {
		if seen[d.MessageId] {
			continue
		}
		seen[d.MessageId] = true
		tenant, _ := d.Headers[HeaderTenantID].(string)
		version, _ := d.Headers[HeaderStreamVersion].(string)
		if want := fmt.Sprint(next[tenant] + 1); version != want {
			t.Fatalf("tenant %s: got version %s, want %s (out of order)", tenant, version, want)
		}
		next[tenant]++
	}
	for _, e := range want {
		if !seen[e.EventID] {
			t.Fatalf("event %s (tenant %s version %d) never delivered", e.EventID, e.TenantID, e.Version)
		}
	}
}

// checkOnce fails when an event was delivered twice: without a failure the
// relay publishes each one once.
func checkOnce(t testing.TB, deliveries []amqp.Delivery) {
	t.Helper()
	ids := map[string]bool{}
	for _, d := range deliveries {
		if ids[d.MessageId] {
			t.Fatalf("event %s published twice without a failure", d.MessageId)
		}
		ids[d.MessageId] = true
	}
}
