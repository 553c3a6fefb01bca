package messaging

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareExchange declares the event exchange as every consumer may: a plain
// durable topic exchange, no arguments. Any service can declare it first the
// usual way (amqplib's assertExchange(name, 'topic', {durable: true}),
// amqp091's ExchangeDeclare(name, "topic", true, false, false, false, nil))
// without locking the relay out.
func declareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	return nil
}

// ensureExchange makes sure the exchange the relay publishes to exists. An
// existing exchange is taken as it is, whatever arguments it was declared
// with (a deployment from before the exchange became plain still has an
// alternate-exchange argument, and RabbitMQ refuses a redeclaration with
// other arguments); a missing one is declared plain. Running on every
// (re)connection, it also repairs an exchange deleted by hand.
//
// The relay declares nothing else: no queue, so nothing it declares grows
// when nobody consumes. An event no binding matches is dropped by the
// broker, yet not lost: the event store is the outbox, and a consumer that
// bound its queue late catches up from GET /api/events.
func ensureExchange(conn *amqp.Connection, exchange string) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	err = ch.ExchangeDeclarePassive(exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	var amqpErr *amqp.Error
	switch {
	case err == nil:
		return ch.Close()
	case errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound:
		// The failed passive declaration closed the channel: declare on a new one.
		if ch, err = conn.Channel(); err != nil {
			return fmt.Errorf("open channel: %w", err)
		}
		if err := declareExchange(ch, exchange); err != nil {
			return err
		}
		return ch.Close()
	default:
		return fmt.Errorf("check exchange %s: %w", exchange, err)
	}
}

// declareQueue declares a subscriber's durable queue and binds it to the
// event exchange with each routing key.
func declareQueue(ch *amqp.Channel, exchange, queue string, keys []string) error {
	if err := declareExchange(ch, exchange); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", queue, err)
	}
	for _, key := range keys {
		if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s with %q: %w", queue, exchange, key, err)
		}
	}
	return nil
}
