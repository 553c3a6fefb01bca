package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
)

// RelayName is the relay's projector name, the key of its checkpoint in
// projector_checkpoints. Persisted: renaming it makes the relay start over from
// position 0 and republish every event ever stored.
const RelayName = "relay.rabbitmq"

// ErrNotConnected is returned (wrapped) by Handle, Ready and Ping while the
// relay has no connection to RabbitMQ.
var ErrNotConnected = errors.New("rabbitmq not connected")

// RelayConfig configures a Relay. The zero value is valid: every field has
// a default.
type RelayConfig struct {
	// Exchange is the topic exchange events are published on. Default
	// "tenant.events".
	Exchange string
	// InFlight is how many tenants' events a batch publishes at once: one
	// event of each, then their confirms, then each one's next event, so up
	// to InFlight confirms are outstanding at once. Default 128.
	InFlight int
	// Channels is the number of AMQP channels (in confirm mode) the
	// publishers share. Default 4.
	Channels int
	// PublishTimeout is how long Handle waits while no confirm arrives before
	// it fails the batch. Default 10s.
	PublishTimeout time.Duration
	// DialTimeout bounds one connection attempt (TCP and AMQP handshake).
	// Default 5s.
	DialTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval; a broker silent for about
	// three intervals is declared gone. Default 10s.
	Heartbeat time.Duration
	// ReconnectDelay is the wait after the first failed connection attempt;
	// it doubles up to MaxReconnectDelay. Default 200ms.
	ReconnectDelay time.Duration
	// MaxReconnectDelay caps the wait between connection attempts. Default 5s.
	MaxReconnectDelay time.Duration
	// TracerProvider, when set, makes each publish a producer span whose
	// parent is the traceparent in the event's metadata (the request that
	// caused it), and the message's traceparent header that span's. Default
	// nil: no span, and the header is the metadata's traceparent.
	TracerProvider trace.TracerProvider
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Exchange == "" {
		c.Exchange = DefaultExchange
	}
	if c.InFlight == 0 {
		c.InFlight = 128
	}
	if c.Channels == 0 {
		c.Channels = 4
	}
	setDuration(&c.PublishTimeout, 10*time.Second)
	setDuration(&c.DialTimeout, 5*time.Second)
	setDuration(&c.Heartbeat, 10*time.Second)
	setDuration(&c.ReconnectDelay, 200*time.Millisecond)
	setDuration(&c.MaxReconnectDelay, 5*time.Second)
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate reports every invalid field, after defaults are applied.
func (c RelayConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.HasPrefix(c.Exchange, "amq.") {
		errs = append(errs, fmt.Errorf("exchange %q: the amq. prefix is reserved", c.Exchange))
	}
	if c.InFlight < 1 || c.InFlight > 10000 {
		errs = append(errs, fmt.Errorf("in-flight %d: must be between 1 and 10000", c.InFlight))
	}
	if c.Channels < 1 || c.Channels > 256 {
		errs = append(errs, fmt.Errorf("channels %d: must be between 1 and 256", c.Channels))
	}
	for name, d := range map[string]time.Duration{
		"publish timeout": c.PublishTimeout, "dial timeout": c.DialTimeout, "heartbeat": c.Heartbeat,
		"reconnect delay": c.ReconnectDelay, "max reconnect delay": c.MaxReconnectDelay,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", name, d))
		}
	}
	if c.MaxReconnectDelay < c.ReconnectDelay {
		errs = append(errs, fmt.Errorf("max reconnect delay %s: shorter than reconnect delay %s", c.MaxReconnectDelay, c.ReconnectDelay))
	}
	return errors.Join(errs...)
}

// Relay publishes stored events to RabbitMQ. It is a projector whose read
// model is the exchange: the event store is the outbox, and the runner
// advances the relay's checkpoint only after Handle returned nil, that is
// after the broker confirmed every event of the batch.
//
// The relay keeps one connection, re-established in the background with
// backoff after it breaks; nothing is buffered while it is down. Its methods
// are safe for concurrent use.
type Relay struct {
	url    string
	log    *slog.Logger
	cfg    RelayConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	sess    *session // nil while disconnected
	lastErr error    // why sess is nil

	confirmed atomic.Uint64 // events the broker confirmed, since start
	tracer    trace.Tracer  // nil: tracing is off
	stats     relayStats
}

// relayStats count what the relay sent, since it started.
type relayStats struct {
	published, nacked atomic.Uint64
	inFlight          atomic.Int64 // published, waiting for the broker's confirm
}

// Confirmed returns how many events this relay published and the broker
// confirmed since it started (a retried event counts each time).
func (r *Relay) Confirmed() uint64 { return r.confirmed.Load() }

// RelayStats is what a relay sent since it started; a retried event counts
// each time it is sent.
type RelayStats struct {
	Published, Confirmed, Nacked uint64
	InFlight                     int64 // published, waiting for the broker's confirm
}

// Stats returns the relay's counters.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Published: r.stats.published.Load(), Confirmed: r.confirmed.Load(),
		Nacked: r.stats.nacked.Load(), InFlight: r.stats.inFlight.Load()}
}

// NewRelay starts a relay that connects to amqpURL in the background; it
// does not wait for the broker, so the service starts while RabbitMQ is
// down. It fails only on an invalid URL or configuration.
func NewRelay(amqpURL string, log *slog.Logger, cfg RelayConfig) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("relay config: %w", err)
	}
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return nil, fmt.Errorf("relay amqp url: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{
		url:     amqpURL,
		log:     log.With("component", RelayName, "broker", fmt.Sprintf("%s:%d%s", uri.Host, uri.Port, uri.Vhost), "exchange", cfg.withDefaults().Exchange),
		cfg:     cfg.withDefaults(),
		cancel:  cancel,
		done:    make(chan struct{}),
		lastErr: fmt.Errorf("%w: connecting", ErrNotConnected),
	}
	if cfg.TracerProvider != nil {
		r.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	go r.supervise(ctx)
	return r, nil
}

// Name returns RelayName, the relay's checkpoint key.
func (r *Relay) Name() string { return RelayName }

// Handle publishes the events, in order per tenant, and returns nil only
// after the broker confirmed all of them. On any failure (no connection, a
// negative confirm, a broken connection, no confirm within PublishTimeout)
// it returns an error; the caller retries the same batch later, so an event
// may be published more than once, always with its event id as message id.
func (r *Relay) Handle(ctx context.Context, events []domain.StoredEvent) error {
	if len(events) == 0 {
		return nil
	}
	s, err := r.current()
	if err != nil {
		return fmt.Errorf("relay %d events from position %d: %w", len(events), events[0].Position, err)
	}
	msgs := make([]outgoing, len(events))
	for i, e := range events {
		pub, err := publishing(e)
		if err != nil {
			return fmt.Errorf("relay event at position %d: %w", e.Position, err)
		}
		msgs[i] = outgoing{event: &events[i], key: RoutingKey(e.Type), pub: pub}
	}
	if err := r.publishAll(ctx, s, msgs); err != nil {
		return fmt.Errorf("relay %d events from position %d: %w", len(events), events[0].Position, err)
	}
	return nil
}

// Ready reports, without blocking, whether the relay is connected with its
// topology declared; the error says why not.
func (r *Relay) Ready() error {
	_, err := r.current()
	return err
}

// Ping checks that the broker answers on the relay's connection (it opens
// and closes a channel), within ctx.
func (r *Relay) Ping(ctx context.Context) error {
	s, err := r.current()
	if err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() {
		ch, err := s.conn.Channel()
		if err == nil {
			err = ch.Close()
		}
		res <- err
	}()
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("ping rabbitmq: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ping rabbitmq: %w", ctx.Err())
	}
}

// Close stops reconnecting and closes the connection. Handle fails after it.
func (r *Relay) Close() error {
	r.cancel()
	<-r.done
	return nil
}

func (r *Relay) current() (*session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess == nil {
		return nil, r.lastErr
	}
	return r.sess, nil
}

func (r *Relay) setSession(s *session, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sess, r.lastErr = s, err
}
