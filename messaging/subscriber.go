package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
)

// Handler handles one tenant event. Returning an error requeues the message
// for another attempt; it must be safe to call more than once for an event.
type Handler func(ctx context.Context, env Envelope) error

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Exchange is the event exchange to bind to. Default "tenant.events".
	Exchange string
	// Queue is the durable queue the subscriber consumes; every instance of
	// one service uses the same name (e.g. "state-manager.tenant-events").
	// Required. Persisted: a new name starts an empty queue.
	Queue string
	// RoutingKeys are the binding keys, such as "tenant.#" (every event) or
	// "tenant.waba_linked". Default ["tenant.#"].
	RoutingKeys []string
	// Prefetch is how many unacknowledged messages the broker sends ahead.
	// Messages are handled one at a time in queue order; with Prefetch > 1 a
	// failed message is redelivered after the ones already sent behind it.
	// Default 1.
	Prefetch int
	// DedupSize is how many recent event ids are remembered to drop
	// redelivered duplicates. Default 10000; negative disables it.
	DedupSize int
	// RetryDelay is the wait before a message whose handler failed is
	// requeued, so a failing dependency is not hammered. Default 1s.
	RetryDelay time.Duration
}

func (c SubscriberConfig) withDefaults() SubscriberConfig {
	if c.Exchange == "" {
		c.Exchange = DefaultExchange
	}
	if len(c.RoutingKeys) == 0 {
		c.RoutingKeys = []string{AllEvents}
	}
	if c.Prefetch == 0 {
		c.Prefetch = 1
	}
	if c.DedupSize == 0 {
		c.DedupSize = 10000
	}
	setDuration(&c.RetryDelay, time.Second)
	return c
}

// Validate reports every invalid field, after defaults are applied.
func (c SubscriberConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.TrimSpace(c.Queue) == "" {
		errs = append(errs, errors.New("queue: required"))
	}
	if strings.HasPrefix(c.Queue, "amq.") || strings.HasPrefix(c.Exchange, "amq.") {
		errs = append(errs, errors.New("queue and exchange: the amq. prefix is reserved"))
	}
	for _, k := range c.RoutingKeys {
		if k == "" {
			errs = append(errs, errors.New("routing keys: empty key"))
		}
	}
	if c.Prefetch < 1 || c.Prefetch > 65535 {
		errs = append(errs, fmt.Errorf("prefetch %d: must be between 1 and 65535", c.Prefetch))
	}
	if c.RetryDelay < 0 {
		errs = append(errs, fmt.Errorf("retry delay %s: must not be negative", c.RetryDelay))
	}
	return errors.Join(errs...)
}

// Subscriber consumes tenant events from a durable queue bound to the event
// exchange. It reconnects after a broken connection (watermill-amqp).
type Subscriber struct {
	sub  *wamqp.Subscriber
	cfg  SubscriberConfig
	log  *slog.Logger
	seen *seenSet
}

// NewSubscriber connects to amqpURL and declares the queue and its bindings,
// so events published from then on are kept for it even before Run.
func NewSubscriber(amqpURL string, log *slog.Logger, cfg SubscriberConfig) (*Subscriber, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("subscriber config: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "messaging.subscriber", "queue", cfg.Queue)
	sub, err := wamqp.NewSubscriber(wamqp.Config{
		Connection: wamqp.ConnectionConfig{
			AmqpURI: amqpURL,
			Reconnect: &wamqp.ReconnectConfig{
				BackoffInitialInterval:     200 * time.Millisecond,
				BackoffRandomizationFactor: 0.5,
				BackoffMultiplier:          2,
				BackoffMaxInterval:         10 * time.Second,
			},
		},
		Marshaler:       marshaler{},
		Exchange:        wamqp.ExchangeConfig{GenerateName: wamqp.GenerateExchangeNameConstant(cfg.Exchange), Type: "topic", Durable: true},
		Queue:           wamqp.QueueConfig{GenerateName: wamqp.GenerateQueueNameConstant(cfg.Queue), Durable: true},
		QueueBind:       wamqp.QueueBindConfig{GenerateRoutingKey: func(string) string { return cfg.RoutingKeys[0] }},
		Consume:         wamqp.ConsumeConfig{Qos: wamqp.QosConfig{PrefetchCount: cfg.Prefetch}},
		TopologyBuilder: topologyBuilder{keys: cfg.RoutingKeys},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return nil, fmt.Errorf("connect subscriber %s: %w", cfg.Queue, err)
	}
	if err := sub.SubscribeInitialize(cfg.Queue); err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("declare queue %s: %w", cfg.Queue, err)
	}
	return &Subscriber{sub: sub, cfg: cfg, log: log, seen: newSeenSet(cfg.DedupSize)}, nil
}

// Subscribe connects, consumes until ctx ends and closes the subscriber: a
// one-call form of NewSubscriber, Run and Close.
func Subscribe(ctx context.Context, amqpURL string, cfg SubscriberConfig, handler Handler, log *slog.Logger) error {
	s, err := NewSubscriber(amqpURL, log, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run(ctx, handler)
}

// Run hands every message to handler, one at a time in queue order, until
// ctx ends (then it returns nil) or the subscriber is closed. A message is
// acknowledged after handler returned nil; after an error it is requeued
// once RetryDelay passed. A message whose event id was handled recently is
// acknowledged without calling handler; one whose body is not an event
// envelope is logged and dropped, as no retry could ever handle it. Call Run
// once per Subscriber.
func (s *Subscriber) Run(ctx context.Context, handler Handler) error {
	msgs, err := s.sub.Subscribe(ctx, s.cfg.Queue)
	if err != nil {
		return fmt.Errorf("consume %s: %w", s.cfg.Queue, err)
	}
	for msg := range msgs {
		s.process(ctx, msg, handler)
	}
	return nil
}

// Close stops consuming (messages being handled are requeued) and closes
// the connection.
func (s *Subscriber) Close() error {
	if err := s.sub.Close(); err != nil {
		return fmt.Errorf("close subscriber %s: %w", s.cfg.Queue, err)
	}
	return nil
}
