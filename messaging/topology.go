package messaging

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// exchangeArgs returns the arguments the event exchange is declared with.
// The relay and every subscriber must pass exactly these: RabbitMQ refuses
// (PRECONDITION_FAILED) to redeclare an exchange with other arguments.
//
// The alternate exchange receives every message no binding matches. Without
// it RabbitMQ drops such a message and still confirms it to the publisher,
// so an event published before any service bound its queue would vanish.
func exchangeArgs(exchange string) amqp.Table {
	return amqp.Table{"alternate-exchange": unroutedName(exchange)}
}

// declareExchange declares the durable topic exchange the events go through.
func declareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, exchangeArgs(exchange)); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	return nil
}

// declareTopology declares what the relay publishes into: the durable fanout
// alternate exchange, the durable queue that keeps unrouted messages and its
// binding, then the event exchange itself. Declaring is idempotent, so it
// runs on every (re)connection and repairs an exchange deleted by hand.
func declareTopology(ch *amqp.Channel, exchange string) error {
	unrouted := unroutedName(exchange)
	if err := ch.ExchangeDeclare(unrouted, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", unrouted, err)
	}
	if _, err := ch.QueueDeclare(unrouted, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", unrouted, err)
	}
	if err := ch.QueueBind(unrouted, "", unrouted, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", unrouted, err)
	}
	return declareExchange(ch, exchange)
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
