package messaging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
	"tenant-service/internal/asyncapitest"
	"tenant-service/internal/spectraltest"
)

// asyncAPISpecs is where make node-deps installs the @asyncapi/specs
// package, which ships the JSON schema of each AsyncAPI version.
const asyncAPISpecs = "testdata/asyncapi-specs"

func loadAsyncAPI(t *testing.T) *asyncapitest.Document {
	t.Helper()
	doc, err := asyncapitest.Load(AsyncAPI())
	if err != nil {
		t.Fatalf("asyncapi.json: %v", err)
	}
	return doc
}

// The document is a valid AsyncAPI 3.0 document: it validates against the
// specification's own JSON schema, and its references resolve.
func TestAsyncAPIIsValidAsyncAPI3(t *testing.T) {
	schema := filepath.Join(asyncAPISpecs, "node_modules", "@asyncapi", "specs", "schemas", "3.0.0-without-$id.json")
	if _, err := os.Stat(schema); err != nil {
		t.Fatalf("the AsyncAPI 3.0 JSON schema is missing (%v): install it with npm ci --prefix messaging/%s (make test does)", err, asyncAPISpecs)
	}
	if err := asyncapitest.ValidateSpec(AsyncAPI(), schema); err != nil {
		t.Fatalf("asyncapi.json is not valid AsyncAPI 3.0:\n%v", err)
	}
}

// Spectral, with the AsyncAPI ruleset and messaging/.spectral.yaml, finds no
// error and no warning in the document.
func TestAsyncAPILint(t *testing.T) {
	spectraltest.Lint(t, "asyncapi.json", ".spectral.yaml")
}

// Every event type of the domain has its message in the document, on the
// channel of its routing key, and the document has no message the domain
// does not define.
func TestAsyncAPIDescribesEveryEventType(t *testing.T) {
	doc := loadAsyncAPI(t)
	for _, typ := range domain.EventTypes() {
		m, ok := doc.Messages()[typ]
		if !ok {
			t.Errorf("event type %s has no message in messaging/asyncapi.json: add its message, channel %q and operation", typ, RoutingKey(typ))
			continue
		}
		if want := []string{RoutingKey(typ)}; !slices.Equal(m.Addresses, want) {
			t.Errorf("message %s is on the channels %q, want exactly one, with the address %q (its routing key)", typ, m.Addresses, want[0])
		}
	}
	for name := range doc.Messages() {
		if !domain.KnownEventType(name) {
			t.Errorf("messaging/asyncapi.json describes a message %s, but the domain has no such event type", name)
		}
	}
	// Every header the relay sets, and no other.
	e := stored(t, domain.NewTenantID(), 1, 1, sampleEvent(t, domain.EventTenantCreated))
	e.Metadata.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	p, err := publishing(e)
	if err != nil {
		t.Fatal(err)
	}
	var published []string
	for k := range p.Headers {
		published = append(published, k)
	}
	slices.Sort(published)
	if got := doc.HeaderNames(); !slices.Equal(got, published) {
		t.Errorf("the document describes the headers %q, the relay sets %q", got, published)
	}
}

// The message the relay builds for each event type validates against the
// document: routing key, headers, the whole body and the AMQP properties;
// with and without a trace parent, and for TenantCreated also as schema
// version 1 (stored events are published as they were stored).
func TestPublishedMessagesMatchAsyncAPI(t *testing.T) {
	doc := loadAsyncAPI(t)
	var events []domain.StoredEvent
	for i, typ := range domain.EventTypes() {
		e := stored(t, domain.NewTenantID(), domain.Version(i+1), domain.Position(100+i), sampleEvent(t, typ))
		events = append(events, e)
		e.Metadata = domain.Metadata{Actor: "meta:webhook", RequestID: "r-1", CorrelationID: "r-1", CausationID: "c-1",
			IdempotencyKey: "k-1", ActorRole: "admin", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
		events = append(events, e)
	}
	v1 := stored(t, domain.NewTenantID(), 1, 7, sampleEvent(t, domain.EventTenantCreated))
	v1.SchemaVersion, v1.Data = 1, []byte(`{"tenantId":"`+string(v1.TenantID)+`","displayName":"Old Shape","settings":{}}`)
	events = append(events, v1)
	for _, e := range events {
		p, err := publishing(e)
		if err != nil {
			t.Fatalf("publishing %s: %v", e.Type, err)
		}
		if err := doc.Check(asyncapitest.FromPublishing(RoutingKey(e.Type), p)); err != nil {
			t.Errorf("%v\nbody: %s", err, p.Body)
		}
	}
}

// The document's examples are messages the document accepts.
func TestAsyncAPIExamplesAreValid(t *testing.T) {
	doc := loadAsyncAPI(t)
	for name, m := range doc.Messages() {
		if len(m.Examples) == 0 {
			t.Errorf("message %s has no example", name)
		}
		for _, ex := range m.Examples {
			if err := m.CheckExample(ex); err != nil {
				t.Error(err)
			}
		}
	}
}

// The check is strict where the document is open: whatever the relay might
// publish that the document does not say fails, naming the event type and
// the field. (Without this, a check that accepts everything would pass the
// tests above.)
func TestAsyncAPICheckRefusesWhatTheDocumentDoesNotSay(t *testing.T) {
	doc := loadAsyncAPI(t)
	e := stored(t, domain.NewTenantID(), 2, 40, sampleEvent(t, domain.EventGenesysCredentialsSet))
	for _, c := range []struct {
		name, want string
		change     func(key *string, p *amqp.Publishing)
	}{
		{"an undescribed header", "GenesysCredentialsSet (tenant.genesys_credentials_set) header at /x-tenant: the document does not describe it",
			func(_ *string, p *amqp.Publishing) { p.Headers["x-tenant"] = "x" }},
		{"a header that is no string", "header at /stream_version: got number, want string",
			func(_ *string, p *amqp.Publishing) { p.Headers[HeaderStreamVersion] = int64(2) }},
		{"a missing header", "header at /: missing property 'global_position'",
			func(_ *string, p *amqp.Publishing) { delete(p.Headers, HeaderGlobalPosition) }},
		{"a header that differs from the body", "header tenant_id is",
			func(_ *string, p *amqp.Publishing) { p.Headers[HeaderTenantID] = string(domain.NewTenantID()) }},
		{"a ciphertext", "body at /data/clientSecret/ciphertext: the document does not describe it",
			func(_ *string, p *amqp.Publishing) {
				p.Body = bytes.Replace(p.Body, []byte(`{"hint"`), []byte(`{"ciphertext":"v1:AAAA","hint"`), 1)
			}},
		{"an undescribed data field", "body at /data/scope: the document does not describe it",
			func(_ *string, p *amqp.Publishing) {
				p.Body = bytes.Replace(p.Body, []byte(`"data":{`), []byte(`"data":{"scope":"all",`), 1)
			}},
		{"data of another type", "body at /data: missing properties 'clientId', 'region', 'clientSecret'",
			func(_ *string, p *amqp.Publishing) { p.Body = withData(t, p.Body, `{"reason":"x"}`) }},
		{"another routing key", "no channel of the document has the address \"tenant.genesys_credentials\"",
			func(key *string, _ *amqp.Publishing) { *key = "tenant.genesys_credentials" }},
		{"a message id that is not the event id", "AMQP property message_id is",
			func(_ *string, p *amqp.Publishing) { p.MessageId = uuid.NewString() }},
		{"a transient message", "AMQP property at /delivery_mode: value must be 2",
			func(_ *string, p *amqp.Publishing) { p.DeliveryMode = amqp.Transient }},
	} {
		p, err := publishing(e)
		if err != nil {
			t.Fatal(err)
		}
		key := RoutingKey(e.Type)
		c.change(&key, &p)
		err = doc.Check(asyncapitest.FromPublishing(key, p))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: the check says %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// withData returns the message body with other data.
func withData(t *testing.T, body []byte, data string) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	env["data"] = json.RawMessage(data)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
