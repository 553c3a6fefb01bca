package messaging

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

// recorder is a Handler that records what it was given; fail decides
// whether a call fails.
type recorder struct {
	mu    sync.Mutex
	got   []Envelope
	calls map[string]int
	fail  func(env Envelope, call int) error
	seen  chan string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, seen: make(chan string, 10000)}
}

func (r *recorder) handle(_ context.Context, env Envelope) error {
	r.mu.Lock()
	r.calls[env.EventID]++
	call := r.calls[env.EventID]
	r.got = append(r.got, env)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(env, call); err != nil {
			return err
		}
	}
	r.seen <- env.EventID
	return nil
}

// waitFor waits (bounded) until the handler succeeded for event id.
func (r *recorder) waitFor(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-r.seen:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("event %s not handled within 30s", id)
		}
	}
}

func (r *recorder) snapshot() ([]Envelope, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := make(map[string]int, len(r.calls))
	for k, v := range r.calls {
		calls[k] = v
	}
	return append([]Envelope(nil), r.got...), calls
}

// runSubscriber starts a subscriber on its own queue; it stops at cleanup.
func (tp *topology) runSubscriber(t *testing.T, cfg SubscriberConfig, h Handler) {
	t.Helper()
	cfg.Exchange, cfg.Queue = tp.exchange, tp.queueName()
	s, err := NewSubscriber(tp.url, testkit.Logger(), cfg)
	if err != nil {
		t.Fatalf("new subscriber: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func TestSubscriberDecodesAndDropsDuplicates(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	rec := newRecorder()
	tp.runSubscriber(t, SubscriberConfig{Prefetch: 8}, rec.handle)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)

	var events []domain.StoredEvent
	tenant := domain.NewTenantID()
	for i, typ := range domain.EventTypes() {
		e := stored(t, tenant, domain.Version(i+1), domain.Position(i+1), sampleEvent(t, typ))
		e.Metadata.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		events = append(events, e)
	}
	mustHandle(t, r, events)
	mustHandle(t, r, events) // the runner retrying a batch: same message ids
	sentinel := stored(t, tenant, 100, 100, sampleEvent(t, domain.EventTenantUpdated))
	mustHandle(t, r, []domain.StoredEvent{sentinel})
	rec.waitFor(t, sentinel.EventID) // one queue, one consumer: everything before it was handled

	got, calls := rec.snapshot()
	for _, e := range events {
		if calls[e.EventID] != 1 {
			t.Errorf("%s handled %d times, want once", e.Type, calls[e.EventID])
		}
	}
	for i, env := range got[:len(events)] {
		e := events[i]
		if env.EventID != e.EventID || env.MessageID != e.EventID || env.TenantID != tenant || env.Version != e.Version {
			t.Fatalf("envelope %d: %+v, want event %s version %d (in order)", i, env.StoredEvent, e.EventID, e.Version)
		}
		if env.RoutingKey != productRoutingKeys[e.Type] || env.Headers[HeaderEventType] != e.Type ||
			env.Headers[HeaderTraceParent] != e.Metadata.TraceParent || env.Headers[HeaderGlobalPosition] != env.Headers[HeaderStreamVersion] {
			t.Errorf("envelope %d: routing key %q headers %v", i, env.RoutingKey, env.Headers)
		}
		if strings.Contains(strings.ToLower(string(env.Data)), "ciphertext") {
			t.Errorf("%s: data has a ciphertext: %s", e.Type, env.Data)
		}
		if _, err := env.Decode(); err != nil {
			t.Errorf("%s: Decode: %v", e.Type, err)
		}
	}
}

func TestSubscriberToleratesNonStringHeaders(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	rec := newRecorder()
	tp.runSubscriber(t, SubscriberConfig{}, rec.handle)

	e := stored(t, domain.NewTenantID(), 1, 1, sampleEvent(t, domain.EventWABALinked))
	msg, err := publishing(e)
	if err != nil {
		t.Fatal(err)
	}
	// What a quorum queue or a dead-letter hop adds to a redelivered message.
	msg.Headers["x-delivery-count"] = int64(3)
	msg.Headers["x-death"] = []any{amqp.Table{"count": int64(1), "reason": "rejected", "queue": "elsewhere", "time": time.Unix(1700000000, 0)}}
	msg.Headers["x-flag"] = true
	tp.publishRaw(t, RoutingKey(e.Type), msg)
	sentinel := stored(t, e.TenantID, 2, 2, sampleEvent(t, domain.EventWABAUnlinked))
	msg, _ = publishing(sentinel)
	tp.publishRaw(t, RoutingKey(sentinel.Type), msg)
	rec.waitFor(t, sentinel.EventID)

	got, calls := rec.snapshot()
	if calls[e.EventID] != 1 {
		t.Fatalf("message with non-string headers handled %d times, want once", calls[e.EventID])
	}
	h := got[0].Headers
	if h["x-delivery-count"] != "3" || h["x-flag"] != "true" || !strings.Contains(h["x-death"], `"reason":"rejected"`) || h[HeaderTenantID] != string(e.TenantID) {
		t.Errorf("headers = %v", h)
	}
	if got[0].Redelivered {
		t.Error("first delivery marked redelivered: the message looped")
	}
}

func TestSubscriberRequeuesFailedAndDropsUndecodable(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	rec := newRecorder()
	rec.fail = func(env Envelope, call int) error {
		if env.Type == domain.EventTenantSuspended && call == 1 {
			return errors.New("cache unavailable")
		}
		if env.Type == domain.EventTenantReactivated && call == 1 {
			panic("handler bug")
		}
		return nil
	}
	tp.runSubscriber(t, SubscriberConfig{RetryDelay: 20 * time.Millisecond}, rec.handle)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)

	tp.publishRaw(t, "tenant.tenant_updated", amqp.Publishing{ContentType: ContentType, Body: []byte("not json"), MessageId: "junk-1"})
	tp.publishRaw(t, "tenant.tenant_updated", amqp.Publishing{ContentType: ContentType, Body: []byte(`{"hello":"world"}`)})
	tenant := domain.NewTenantID()
	suspended := stored(t, tenant, 1, 1, sampleEvent(t, domain.EventTenantSuspended))
	reactivated := stored(t, tenant, 2, 2, sampleEvent(t, domain.EventTenantReactivated))
	sentinel := stored(t, tenant, 3, 3, sampleEvent(t, domain.EventTenantDeleted))
	mustHandle(t, r, []domain.StoredEvent{suspended, reactivated})
	rec.waitFor(t, reactivated.EventID)
	mustHandle(t, r, []domain.StoredEvent{sentinel})
	rec.waitFor(t, sentinel.EventID)

	got, calls := rec.snapshot()
	if calls[suspended.EventID] != 2 || calls[reactivated.EventID] != 2 {
		t.Errorf("calls = %v, want two (a failure, then a redelivery) for each failing event", calls)
	}
	var redelivered []string
	for _, env := range got {
		if env.EventID == "" {
			t.Errorf("handler got an undecodable message: %+v", env)
		}
		if env.Redelivered {
			redelivered = append(redelivered, env.Type)
		}
	}
	if len(redelivered) != 2 || redelivered[0] != domain.EventTenantSuspended || redelivered[1] != domain.EventTenantReactivated {
		t.Errorf("redelivered %v, want the failed TenantSuspended then the panicked TenantReactivated", redelivered)
	}
}

func TestSubscriberBindsOnlyItsRoutingKeys(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	rec := newRecorder()
	keys := []string{RoutingKey(domain.EventWABALinked), RoutingKey(domain.EventTenantDeleted)}
	tp.runSubscriber(t, SubscriberConfig{RoutingKeys: keys}, rec.handle)
	r := tp.relay(t, "", RelayConfig{})
	waitReady(t, r)

	tenant := domain.NewTenantID()
	var events []domain.StoredEvent
	for i, typ := range domain.EventTypes() {
		if typ != domain.EventTenantDeleted {
			events = append(events, stored(t, tenant, domain.Version(i+1), domain.Position(i+1), sampleEvent(t, typ)))
		}
	}
	sentinel := stored(t, tenant, 99, 99, sampleEvent(t, domain.EventTenantDeleted))
	mustHandle(t, r, append(events, sentinel))
	rec.waitFor(t, sentinel.EventID)

	got, _ := rec.snapshot()
	if len(got) != 2 || got[0].Type != domain.EventWABALinked || got[1].Type != domain.EventTenantDeleted {
		types := make([]string, len(got))
		for i, env := range got {
			types[i] = env.Type
		}
		t.Errorf("handled %v, want [WABALinked TenantDeleted]", types)
	}
}

func TestSubscriberConfigValidate(t *testing.T) {
	err := SubscriberConfig{Prefetch: -1, RoutingKeys: []string{""}, RetryDelay: -1}.Validate()
	for _, want := range []string{"queue: required", "routing keys", "prefetch", "retry delay"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
	if err := (SubscriberConfig{Queue: "svc.tenant-events"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}
