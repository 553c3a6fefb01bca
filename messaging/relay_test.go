package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

func TestRelayPublishesEveryEventType(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)

	var events []domain.StoredEvent
	for i, typ := range domain.EventTypes() {
		e := stored(t, domain.NewTenantID(), 1, domain.Position(100+i), sampleEvent(t, typ))
		if i%2 == 0 {
			e.Metadata.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b" + strconv.Itoa(i%10) + "-01"
		}
		events = append(events, e)
	}
	mustHandle(t, r, events)

	byID := map[string]domain.StoredEvent{}
	for _, e := range events {
		byID[e.EventID] = e
	}
	for _, d := range tap.take(t, len(events)) {
		e, ok := byID[d.MessageId]
		if !ok {
			t.Fatalf("unexpected message id %q", d.MessageId)
		}
		delete(byID, d.MessageId)
		if d.RoutingKey != productRoutingKeys[e.Type] {
			t.Errorf("%s: routing key %q, want %q", e.Type, d.RoutingKey, productRoutingKeys[e.Type])
		}
		if d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent {
			t.Errorf("%s: content type %q, delivery mode %d", e.Type, d.ContentType, d.DeliveryMode)
		}
		want := map[string]string{
			"event_type": e.Type, "tenant_id": string(e.TenantID),
			"stream_version": strconv.FormatInt(int64(e.Version), 10), "global_position": strconv.FormatInt(int64(e.Position), 10),
		}
		if e.Metadata.TraceParent != "" {
			want["traceparent"] = e.Metadata.TraceParent
		} else if _, has := d.Headers["traceparent"]; has {
			t.Errorf("%s: traceparent header without a trace parent", e.Type)
		}
		for k, v := range want {
			if got, ok := d.Headers[k].(string); !ok || got != v {
				t.Errorf("%s: header %s = %#v, want string %q", e.Type, k, d.Headers[k], v)
			}
		}
		if bytes.Contains(bytes.ToLower(d.Body), []byte("ciphertext")) {
			t.Errorf("%s: body contains a ciphertext: %s", e.Type, d.Body)
		}
		var got domain.StoredEvent
		if err := json.Unmarshal(d.Body, &got); err != nil {
			t.Fatalf("%s: body is not an envelope: %v", e.Type, err)
		}
		if got.EventID != e.EventID || got.Type != e.Type || got.Position != e.Position || got.StreamID != e.StreamID ||
			!got.OccurredAt.Equal(e.OccurredAt) || got.SchemaVersion != e.SchemaVersion || got.Metadata != e.Metadata {
			t.Errorf("%s: envelope %+v, want %+v", e.Type, got, e)
		}
	}
}

func TestRelayKeepsTenantOrderWithManyInFlight(t *testing.T) {
	t.Parallel()
	relayInOrderOnce(t, RelayConfig{InFlight: 64, Channels: 3}, interleaved(t, 150, 20, 0))
}

// relayInOrderOnce relays the events in one batch and checks that each
// tenant's arrived in order, each event once.
func relayInOrderOnce(t *testing.T, cfg RelayConfig, events []domain.StoredEvent) {
	t.Helper()
	tp := newTopology(t)
	r := tp.relay(t, "", cfg)
	waitReady(t, r)
	tap := tp.tap(t, AllEvents)
	mustHandle(t, r, events)
	got := tap.take(t, len(events))
	checkTenantOrder(t, got, events)
	checkOnce(t, got)
}

// Tenants with one event or a few make room for the next ones while those
// with more still publish theirs, one confirm at a time.
func TestRelayKeepsTenantOrderWithUnevenTenants(t *testing.T) {
	t.Parallel()
	// Tenant i has i%7+1 events, interleaved in batch order as commits are.
	types := domain.EventTypes()
	ids := make([]domain.TenantID, 30)
	for i := range ids {
		ids[i] = domain.NewTenantID()
	}
	var events []domain.StoredEvent
	for v := 1; v <= 7; v++ {
		for i, id := range ids {
			if v <= i%7+1 {
				ev := sampleEvent(t, types[(i+v)%len(types)])
				events = append(events, stored(t, id, domain.Version(v), domain.Position(len(events)+1), ev))
			}
		}
	}
	relayInOrderOnce(t, RelayConfig{InFlight: 8, Channels: 2}, events)
}

// A consumer that declares the exchange first, the usual way (as amqplib's
// assertExchange(name, 'topic', {durable: true}) does), gets every event.
func TestRelayPublishesToAnExchangeAConsumerDeclaredFirst(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	conn, err := amqp.Dial(tp.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(tp.exchange, "topic", true, false, false, false, nil); err != nil {
		t.Fatalf("the consumer's own declaration: %v", err)
	}
	tap := tp.tap(t, AllEvents)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)

	tenant := domain.NewTenantID()
	events := []domain.StoredEvent{stored(t, tenant, 1, 1, sampleEvent(t, domain.EventTenantCreated)),
		stored(t, tenant, 2, 2, sampleEvent(t, domain.EventWABALinked))}
	mustHandle(t, r, events)
	checkTenantOrder(t, tap.take(t, 2), events)

	// The relay declared nothing beside the exchange: no queue that would
	// grow while nobody consumes it.
	probe, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.QueueDeclarePassive(tp.exchange+".unrouted", true, false, false, false, nil); err == nil {
		t.Fatal("the relay declared an unrouted queue")
	}
}

// An exchange declared by an older deployment, with an alternate-exchange
// argument, is taken as it is: the relay connects and publishes.
func TestRelayTakesAnExistingExchangeAsItIs(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	conn, err := amqp.Dial(tp.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	args := amqp.Table{"alternate-exchange": tp.exchange + ".ae"}
	if err := ch.ExchangeDeclare(tp.exchange, "topic", true, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(tp.exchange, false, false) })
	tap := tp.passiveTap(t, AllEvents)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)
	e := stored(t, domain.NewTenantID(), 1, 1, sampleEvent(t, domain.EventTenantCreated))
	mustHandle(t, r, []domain.StoredEvent{e})
	if d := tap.take(t, 1)[0]; d.MessageId != e.EventID {
		t.Fatalf("got %s, want %s", d.MessageId, e.EventID)
	}
}

func TestRelayWithoutBrokerFailsFast(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now: connections are refused
	r, err := NewRelay("amqp://guest:guest@"+addr+"/", testkit.Logger(), RelayConfig{Exchange: "test.nobroker"})
	if err != nil {
		t.Fatalf("new relay: %v", err)
	}
	defer r.Close()

	events := interleaved(t, 2, 2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = r.Handle(ctx, events)
	if !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Handle without a broker = %v, want ErrNotConnected", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Handle waited for its context instead of failing fast")
	}
	if err := r.Ready(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Ready = %v, want ErrNotConnected", err)
	}
	if err := r.Ping(ctx); err == nil {
		t.Error("Ping succeeded without a broker")
	}
	if err := r.Handle(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if r.Name() != "relay.rabbitmq" {
		t.Errorf("Name = %q", r.Name())
	}
}

func TestRelayPingAndClose(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Handle(ctx, interleaved(t, 1, 1, 0)); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Handle after Close = %v, want ErrNotConnected", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRelayConfigValidate(t *testing.T) {
	if err := (RelayConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	err := RelayConfig{Exchange: "amq.topic", InFlight: -1, Channels: 1000, PublishTimeout: -time.Second}.Validate()
	for _, want := range []string{"amq.", "in-flight", "channels", "publish timeout"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
	if _, err := NewRelay("http://example.com", nil, RelayConfig{}); err == nil {
		t.Error("NewRelay accepted a non-AMQP URL")
	}
}
