// Package asyncapitest checks AMQP messages against the AsyncAPI document
// that describes them (messaging/asyncapi.json), and the document against
// the AsyncAPI 3.0 specification. The tests of messaging (messages as the
// relay builds them) and of the whole service (messages as a queue receives
// them) share it.
//
// The document leaves its objects open, because fields may be added and
// consumers must ignore the ones they do not know. A test wants the
// opposite: a field the service publishes but the document does not
// describe is a gap in the document. So Load closes every object schema
// that lists its properties (additionalProperties: false) before it
// compiles the document: a header, envelope field, data field or AMQP
// property the document does not name fails the check, and so does a
// secret's ciphertext next to its hint.
package asyncapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// docURL is where the compiler keeps the document under test.
const docURL = "mem:///asyncapi.json"

// Document is a loaded AsyncAPI document with a compiled validator for the
// headers, body and AMQP properties of each of its messages.
type Document struct {
	raw       map[string]any
	messages  map[string]*Message // by name
	addresses map[string][]string // channel address → names of its messages
}

// Message is one message of the document.
type Message struct {
	// Name is the message's name: the event type.
	Name string
	// Addresses are the addresses (routing keys) of the channels that carry it.
	Addresses []string
	// Examples are the message's examples, as the document gives them.
	Examples []Example

	headers, payload, properties *jsonschema.Schema
}

// Example is one example of a message.
type Example struct {
	Name    string
	Headers map[string]any
	Payload map[string]any
}

// Load parses and compiles an AsyncAPI 3.0 document whose channels each
// name their messages by reference to components/messages. Every message
// needs headers and a payload; its AMQP properties are the schema under the
// extension x-amqp-properties.
func Load(doc []byte) (*Document, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("asyncapi: parse the document: %w", err)
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("asyncapi: the document is not a JSON object")
	}
	closed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc)) // a copy to close
	if err != nil {
		return nil, err
	}
	components, _ := closed.(map[string]any)["components"].(map[string]any)
	closeObjects(components["schemas"])
	for _, m := range object(components["messages"]) {
		for _, part := range []string{"headers", "payload", "x-amqp-properties"} {
			closeObjects(object(m)[part])
		}
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, closed); err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	d := &Document{raw: raw, messages: map[string]*Message{}, addresses: map[string][]string{}}
	var errs []error
	for id, m := range object(object(raw["components"])["messages"]) {
		msg := &Message{Name: str(object(m)["name"])}
		if msg.Name != id {
			errs = append(errs, fmt.Errorf("asyncapi: message %s is named %q: name it as its key, the event type", id, msg.Name))
		}
		for part, dst := range map[string]**jsonschema.Schema{"headers": &msg.headers, "payload": &msg.payload, "x-amqp-properties": &msg.properties} {
			if object(m)[part] == nil {
				errs = append(errs, fmt.Errorf("asyncapi: message %s has no %s", id, part))
				continue
			}
			if *dst, err = c.Compile(docURL + "#/components/messages/" + id + "/" + part); err != nil {
				errs = append(errs, fmt.Errorf("asyncapi: message %s: compile its %s: %w", id, part, err))
			}
		}
		for _, ex := range list(object(m)["examples"]) {
			msg.Examples = append(msg.Examples, Example{Name: str(object(ex)["name"]),
				Headers: object(object(ex)["headers"]), Payload: object(object(ex)["payload"])})
		}
		d.messages[id] = msg
	}
	for id, ch := range object(raw["channels"]) {
		address := str(object(ch)["address"])
		for key, ref := range object(object(ch)["messages"]) {
			name, ok := strings.CutPrefix(str(object(ref)["$ref"]), "#/components/messages/")
			if msg := d.messages[name]; !ok || msg == nil {
				errs = append(errs, fmt.Errorf("asyncapi: channel %s: message %s is no reference to components/messages", id, key))
				continue
			}
			d.addresses[address] = append(d.addresses[address], name)
			d.messages[name].Addresses = append(d.messages[name].Addresses, address)
		}
	}
	return d, errors.Join(errs...)
}

// closeObjects sets additionalProperties: false in every object schema
// under s that lists its properties and says nothing about others. (Not
// unevaluatedProperties: after one failed subschema it reports every
// property as unknown, burying the real problem.) Values that are data, not
// schemas (const, enum, default, examples), are left alone.
func closeObjects(s any) {
	switch s := s.(type) {
	case []any:
		for _, v := range s {
			closeObjects(v)
		}
	case map[string]any:
		_, listed := s["properties"]
		_, open := s["additionalProperties"]
		_, unevaluated := s["unevaluatedProperties"]
		if s["type"] == "object" && listed && !open && !unevaluated {
			s["additionalProperties"] = false
		}
		for k, v := range s {
			switch k {
			case "const", "enum", "default", "examples", "example":
			case "properties", "patternProperties", "$defs", "definitions":
				for _, sub := range object(v) {
					closeObjects(sub)
				}
			default:
				closeObjects(v)
			}
		}
	}
}

// Messages returns every message of the document, by name.
func (d *Document) Messages() map[string]*Message { return d.messages }

// HeaderNames returns the names of the headers every message shares: the
// properties of components/schemas/Headers.
func (d *Document) HeaderNames() []string {
	var names []string
	for name := range object(object(object(object(d.raw["components"])["schemas"])["Headers"])["properties"]) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

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
	return Delivery{RoutingKey: d.RoutingKey, Headers: d.Headers, Body: d.Body, Properties: properties(
		d.ContentType, d.ContentEncoding, d.DeliveryMode, d.Priority, d.CorrelationId, d.ReplyTo, d.Expiration,
		d.MessageId, d.Timestamp, d.Type, d.UserId, d.AppId)}
}

// FromPublishing is a message as the publisher hands it to the broker.
func FromPublishing(routingKey string, p amqp.Publishing) Delivery {
	return Delivery{RoutingKey: routingKey, Headers: p.Headers, Body: p.Body, Properties: properties(
		p.ContentType, p.ContentEncoding, p.DeliveryMode, p.Priority, p.CorrelationId, p.ReplyTo, p.Expiration,
		p.MessageId, p.Timestamp, p.Type, p.UserId, p.AppId)}
}

func properties(contentType, contentEncoding string, deliveryMode, priority uint8, correlationID, replyTo, expiration,
	messageID string, timestamp time.Time, typ, userID, appID string) map[string]any {
	p := map[string]any{}
	for k, v := range map[string]string{"content_type": contentType, "content_encoding": contentEncoding,
		"correlation_id": correlationID, "reply_to": replyTo, "expiration": expiration, "message_id": messageID,
		"type": typ, "user_id": userID, "app_id": appID} {
		if v != "" {
			p[k] = v
		}
	}
	for k, v := range map[string]uint8{"delivery_mode": deliveryMode, "priority": priority} {
		if v != 0 {
			p[k] = json.Number(strconv.Itoa(int(v)))
		}
	}
	if !timestamp.IsZero() {
		p["timestamp"] = json.Number(strconv.FormatInt(timestamp.Unix(), 10))
	}
	return p
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
	{header: "traceparent", field: "/metadata/traceParent"},
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
		for what, got := range map[string]any{"header " + s.header: headers[s.header], "AMQP property " + s.property: m.Properties[s.property]} {
			if strings.HasSuffix(what, " ") || (got == nil && !inBody) {
				continue // no such copy, or neither side has the value
			}
			if got == nil || !inBody || fmt.Sprint(got) != fmt.Sprint(want) {
				errs = append(errs, fmt.Errorf("%s %s is %s, but the body's %s is %s: the document says they are the same",
					where, what, shown(got), s.field, shown(want)))
			}
		}
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

func shown(v any) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

func object(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any            { l, _ := v.([]any); return l }
func str(v any) string            { s, _ := v.(string); return s }

// ValidateSpec validates the document against the JSON schema of the
// AsyncAPI specification in schemaFile (the @asyncapi/specs package's
// schemas/3.0.0-without-$id.json), then checks what that schema cannot:
// every local $ref resolves, and every operation sends messages of its own
// channel.
func ValidateSpec(doc []byte, schemaFile string) error {
	spec, err := os.ReadFile(schemaFile)
	if err != nil {
		return fmt.Errorf("read the AsyncAPI schema: %w", err)
	}
	specDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
	if err != nil {
		return fmt.Errorf("parse the AsyncAPI schema %s: %w", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	const specURL = "mem:///asyncapi-3.0.0.json"
	if err := c.AddResource(specURL, specDoc); err != nil {
		return err
	}
	schema, err := c.Compile(specURL)
	if err != nil {
		return fmt.Errorf("compile the AsyncAPI schema %s: %w", schemaFile, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("parse the document: %w", err)
	}
	var errs []error
	if err := schema.Validate(v); err != nil {
		errs = append(errs, describe("the document", "AsyncAPI 3.0 has no such field (extensions start with x-)", err)...)
	}
	errs = append(errs, checkRefs(v, v, "")...)
	for id, op := range object(object(v)["operations"]) {
		channel := str(object(object(op)["channel"])["$ref"]) + "/messages/"
		for _, ref := range list(object(op)["messages"]) {
			if r := str(object(ref)["$ref"]); !strings.HasPrefix(r, channel) {
				errs = append(errs, fmt.Errorf("operation %s sends %s, which is not a message of its channel %s", id, r, strings.TrimSuffix(channel, "/messages/")))
			}
		}
	}
	return errors.Join(errs...)
}

// checkRefs reports every "$ref" under v that does not resolve in doc.
func checkRefs(doc, v any, at string) []error {
	var errs []error
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if _, ok := resolve(doc, ref); !ok {
				errs = append(errs, fmt.Errorf("the document at %s: $ref %q resolves to nothing", at, ref))
			}
		}
		for k, child := range v {
			errs = append(errs, checkRefs(doc, child, at+"/"+k)...)
		}
	case []any:
		for i, child := range v {
			errs = append(errs, checkRefs(doc, child, at+"/"+strconv.Itoa(i))...)
		}
	}
	return errs
}

func resolve(doc any, ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false // only local references are used
	}
	if ptr == "" {
		return doc, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch d := doc.(type) {
		case map[string]any:
			if doc, ok = d[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}
