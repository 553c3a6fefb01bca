package messaging

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Metadata keys under which the marshaler keeps AMQP properties that
// watermill has no field for.
const (
	metaRoutingKey = "_amqp_routing_key"
	metaMessageID  = "_amqp_message_id"
)

// marshaler converts between watermill messages and AMQP messages the way
// this contract needs: the AMQP message id is the watermill UUID (the event
// id), bodies are JSON and persistent.
//
// Unlike watermill-amqp's DefaultMarshaler, Unmarshal never fails: a header
// that is not a string (x-death, x-delivery-count, set by the broker on
// redelivered or dead-lettered messages) is formatted as text instead of
// making the message undecodable — watermill would nack and requeue such a
// message forever.
type marshaler struct{}

// Marshal returns the AMQP message for a watermill message; metadata becomes
// string headers.
func (marshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	headers := make(amqp.Table, len(msg.Metadata))
	for k, v := range msg.Metadata {
		headers[k] = v
	}
	return amqp.Publishing{
		Headers:      headers,
		ContentType:  ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    msg.UUID,
		Body:         msg.Payload,
	}, nil
}

// Unmarshal returns the watermill message for a delivery: UUID = message id,
// metadata = every header as a string plus the routing key and message id.
func (marshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	msg := message.NewMessage(d.MessageId, d.Body)
	msg.Metadata = make(message.Metadata, len(d.Headers)+2)
	for k, v := range d.Headers {
		msg.Metadata[k] = headerString(v)
	}
	msg.Metadata[metaRoutingKey] = d.RoutingKey
	msg.Metadata[metaMessageID] = d.MessageId
	return msg, nil
}

// headerString formats an AMQP field value: strings as they are, numbers in
// decimal, times in RFC 3339, tables and arrays as JSON.
func headerString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	default:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
		return fmt.Sprint(v)
	}
}
