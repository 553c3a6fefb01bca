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
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
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

func object(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any            { l, _ := v.([]any); return l }
func str(v any) string            { s, _ := v.(string); return s }
