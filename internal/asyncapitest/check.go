package asyncapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Delivery is an AMQP message as a consumer receives it.
type Delivery struct {
	RoutingKey string
	Headers    amqp.Table
	// Properties are the AMQP basic properties that are set, by their AMQP
	// names (content_type, delivery_mode, message_id, timestamp as Unix
	// seconds, ...).
	Properties map[string]any
	Body       []byte
}

// FromDelivery is a received message as a Delivery.
func FromDelivery(d amqp.Delivery) Delivery {
	p := map[string]any{}
	for k, v := range map[string]string{"content_type": d.ContentType, "content_encoding": d.ContentEncoding,
		"correlation_id": d.CorrelationId, "reply_to": d.ReplyTo, "expiration": d.Expiration, "message_id": d.MessageId,
		"type": d.Type, "user_id": d.UserId, "app_id": d.AppId} {
		if v != "" {
			p[k] = v
		}
	}
	for k, v := range map[string]uint8{"delivery_mode": d.DeliveryMode, "priority": d.Priority} {
		if v != 0 {
			p[k] = json.Number(strconv.Itoa(int(v)))
		}
	}
	if !d.Timestamp.IsZero() {
		p["timestamp"] = json.Number(strconv.FormatInt(d.Timestamp.Unix(), 10))
	}
	return Delivery{RoutingKey: d.RoutingKey, Headers: d.Headers, Properties: p, Body: d.Body}
}

// FromPublishing is a message as a publisher hands it to the broker with
// the routing key.
func FromPublishing(routingKey string, p amqp.Publishing) Delivery {
	return FromDelivery(amqp.Delivery{RoutingKey: routingKey, Headers: p.Headers, ContentType: p.ContentType,
		ContentEncoding: p.ContentEncoding, DeliveryMode: p.DeliveryMode, Priority: p.Priority,
		CorrelationId: p.CorrelationId, ReplyTo: p.ReplyTo, Expiration: p.Expiration, MessageId: p.MessageId,
		Timestamp: p.Timestamp, Type: p.Type, UserId: p.UserId, AppId: p.AppId, Body: p.Body})
}

// sameAs lists the headers and AMQP properties the document describes as
// copies of a body field, with that field.
var sameAs = []struct{ header, property, field string }{
	{header: "event_type", property: "type", field: "/type"},
	{header: "tenant_id", field: "/tenantId"},
	{header: "stream_id", field: "/streamId"},
	{header: "stream_version", field: "/version"},
	{header: "global_position", field: "/position"},
	{header: "schema_version", field: "/schemaVersion"},
	{property: "message_id", field: "/eventId"},
	{property: "correlation_id", field: "/metadata/correlationId"},
}

// Check validates a message against the document: its routing key is the
// address of a channel, and its headers, body and AMQP properties validate
// against the schemas of that channel's message. Every problem is named with
// the event type and the field, e.g.
//
//	WABALinked (tenant.waba_linked) body at /data/source: value must be one of "manual", "embedded_signup"
func (d *Document) Check(m Delivery) error {
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Body))
	if err != nil {
		return fmt.Errorf("message on %s: body is not JSON: %w", m.RoutingKey, err)
	}
	typ := str(object(body)["type"])
	names := d.addresses[m.RoutingKey]
	if len(names) == 0 {
		return fmt.Errorf("%s: no channel of the document has the address %q (the message's routing key)", typ, m.RoutingKey)
	}
	name := names[0]
	if len(names) > 1 {
		if h, _ := m.Headers["event_type"].(string); slices.Contains(names, h) {
			name = h
		}
	}
	msg := d.messages[name]
	where := fmt.Sprintf("%s (%s)", name, m.RoutingKey)
	headers := make(map[string]any, len(m.Headers))
	for k, v := range m.Headers {
		headers[k] = jsonValue(v)
	}
	var errs []error
	for _, part := range []struct {
		what   string
		schema *jsonschema.Schema
		value  any
	}{{"header", msg.headers, headers}, {"body", msg.payload, body}, {"AMQP property", msg.properties, m.Properties}} {
		if err := part.schema.Validate(part.value); err != nil {
			errs = append(errs, describe(where+" "+part.what, undescribed, err)...)
		}
	}
	for _, s := range sameAs {
		want, inBody := pointer(body, s.field)
		if s.header != "" {
			errs = append(errs, same(where+" header "+s.header, headers[s.header], s.field, want, inBody)...)
		}
		if s.property != "" {
			errs = append(errs, same(where+" AMQP property "+s.property, m.Properties[s.property], s.field, want, inBody)...)
		}
	}
	// The traceparent header continues the request's trace: same trace id as
	// the body's metadata.traceParent (its parent is the relay's publish span
	// when the service traces), present exactly when that is.
	header, inHeader := headers["traceparent"].(string)
	recorded, inBody := pointer(body, "/metadata/traceParent")
	switch {
	case inHeader != inBody:
		errs = append(errs, fmt.Errorf("%s header traceparent present %v, but the body's metadata.traceParent present %v", where, inHeader, inBody))
	case inHeader && traceID(header) != traceID(str(recorded)):
		errs = append(errs, fmt.Errorf("%s header traceparent %q is not in the trace of the body's metadata.traceParent %q", where, header, str(recorded)))
	}
	if ts, ok := m.Properties["timestamp"]; ok {
		at, err := time.Parse(time.RFC3339Nano, str(object(body)["occurredAt"]))
		if err == nil && fmt.Sprint(ts) != strconv.FormatInt(at.Unix(), 10) {
			errs = append(errs, fmt.Errorf("%s AMQP property timestamp = %v, but the body's occurredAt is %s", where, ts, at))
		}
	}
	return errors.Join(errs...)
}

// CheckExample validates one of the message's examples, as Check validates
// a message (without AMQP properties, which examples do not have).
func (m *Message) CheckExample(ex Example) error {
	var errs []error
	where := fmt.Sprintf("%s example %q", m.Name, ex.Name)
	if err := m.headers.Validate(ex.Headers); err != nil {
		errs = append(errs, describe(where+" header", undescribed, err)...)
	}
	if err := m.payload.Validate(ex.Payload); err != nil {
		errs = append(errs, describe(where+" body", undescribed, err)...)
	}
	return errors.Join(errs...)
}

var printer = message.NewPrinter(language.English)

// undescribed is what describe says of a field a message has but its
// schema does not name.
const undescribed = "the document does not describe it"

// describe turns a validation error into one error per failed keyword,
// each naming the field (the instance location). A property the schema does
// not allow is reported as unknown: the schema does not describe it.
func describe(where, unknown string, err error) []error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []error{fmt.Errorf("%s: %w", where, err)}
	}
	var out []error
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			field := "/" + strings.Join(e.InstanceLocation, "/")
			if extra, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
				for _, p := range extra.Properties {
					out = append(out, fmt.Errorf("%s at %s: %s", where, strings.TrimSuffix(field, "/")+"/"+p, unknown))
				}
				return
			}
			out = append(out, fmt.Errorf("%s at %s: %s", where, field, e.ErrorKind.LocalizedString(printer)))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// jsonValue is an AMQP field value as the validator sees it: strings as
// they are, numbers as numbers, anything else as an object naming its AMQP
// type, so a header that is not a string fails "type: string" by name.
func jsonValue(v any) any {
	switch v := v.(type) {
	case string, bool, nil:
		return v
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, float32, float64:
		return json.Number(fmt.Sprint(v))
	default:
		return map[string]any{"amqpType": fmt.Sprintf("%T", v)}
	}
}

// pointer returns the value at a JSON pointer of plain keys.
func pointer(doc any, ptr string) (any, bool) {
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// same reports a copy of a body field that differs from it; a copy may be
// absent only when the field is.
func same(what string, got any, field string, want any, inBody bool) []error {
	if (got == nil && !inBody) || (got != nil && inBody && fmt.Sprint(got) == fmt.Sprint(want)) {
		return nil
	}
	return []error{fmt.Errorf("%s is %s, but the body's %s is %s: the document says they are the same", what, shown(got), field, shown(want))}
}

func shown(v any) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

// traceID is the trace-id field of a W3C traceparent ("" when malformed).
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 {
		return ""
	}
	return parts[1]
}
