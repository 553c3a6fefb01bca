package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
)

// Envelope is a received tenant event: the envelope from the message body
// (its Data without ciphertexts: a secret shows only its hint) and the
// message's AMQP details. Decode (from domain.StoredEvent) returns the typed
// event.
type Envelope struct {
	domain.StoredEvent
	// MessageID is the AMQP message id: the event id.
	MessageID string
	// RoutingKey is the key the message was published with, e.g.
	// "tenant.waba_linked".
	RoutingKey string
	// Headers holds every header as text: the contract's string headers
	// (event_type, tenant_id, stream_version, global_position, traceparent)
	// and any the broker added, with numbers in decimal and tables as JSON.
	Headers map[string]string
	// Redelivered reports that the broker delivered the message before.
	Redelivered bool
}

// decodeEnvelope reads a watermill message made by marshaler.
func decodeEnvelope(msg *message.Message) (Envelope, error) {
	env := Envelope{
		MessageID:   msg.Metadata.Get(metaMessageID),
		RoutingKey:  msg.Metadata.Get(metaRoutingKey),
		Headers:     make(map[string]string, len(msg.Metadata)),
		Redelivered: wamqp.IsMessageRedelivered(msg),
	}
	for k, v := range msg.Metadata {
		switch k {
		case metaMessageID, metaRoutingKey, wamqp.MetadataRedeliveredKey:
		default:
			env.Headers[k] = v
		}
	}
	if err := json.Unmarshal(msg.Payload, &env.StoredEvent); err != nil {
		return env, fmt.Errorf("decode body: %w", err)
	}
	if env.EventID == "" || env.Type == "" {
		return env, errors.New("body is not an event envelope: no eventId or type")
	}
	return env, nil
}

// process handles one message and acknowledges or requeues it.
func (s *Subscriber) process(ctx context.Context, msg *message.Message, handler Handler) {
	env, err := decodeEnvelope(msg)
	if err != nil {
		s.log.Error("dropping undecodable message", "message_id", env.MessageID, "routing_key", env.RoutingKey, "error", err.Error())
		msg.Ack()
		return
	}
	if s.seen.Seen(env.EventID) {
		s.log.Debug("dropping duplicate event", "event_id", env.EventID, "event_type", env.Type)
		msg.Ack()
		return
	}
	if err := callHandler(ctx, handler, env); err != nil {
		s.log.Warn("event handler failed; requeueing", "event_id", env.EventID, "event_type", env.Type,
			"tenant_id", string(env.TenantID), "retry_in", s.cfg.RetryDelay.String(), "error", err.Error())
		sleep(ctx, s.cfg.RetryDelay)
		msg.Nack()
		return
	}
	s.seen.Add(env.EventID)
	msg.Ack()
}

// callHandler turns a handler panic into an error, so the message is
// requeued and the subscriber keeps running.
func callHandler(ctx context.Context, handler Handler, env Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return handler(ctx, env)
}

// topologyBuilder declares the subscriber's side of the topology: the event
// exchange, exactly as the relay declares it, and the queue bound with every
// routing key (watermill's default binds one key).
type topologyBuilder struct {
	keys []string
}

// BuildTopology declares the exchange and the queue with its bindings.
func (b topologyBuilder) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, _ wamqp.Config, _ watermill.LoggerAdapter) error {
	return declareQueue(ch, p.ExchangeName, p.QueueName, b.keys)
}

// ExchangeDeclare declares the event exchange.
func (b topologyBuilder) ExchangeDeclare(ch *amqp.Channel, exchange string, _ wamqp.Config) error {
	return declareExchange(ch, exchange)
}
