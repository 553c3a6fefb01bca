package messaging

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
)

// secretRefs returns every SecretRef the event carries.
func secretRefs(ev domain.Event) []domain.SecretRef {
	switch e := ev.(type) {
	case domain.GenesysCredentialsSet:
		return []domain.SecretRef{e.ClientSecret}
	case domain.CredentialsRotated:
		return []domain.SecretRef{e.ClientSecret}
	case domain.GenesysIntegrationLinked:
		if e.WebhookSecret != nil {
			return []domain.SecretRef{*e.WebhookSecret}
		}
	case domain.WhatsAppTokenStored:
		return []domain.SecretRef{e.Token}
	}
	return nil
}

func TestBodyLeavesOutSecrets(t *testing.T) {
	withSecrets := 0
	for _, typ := range domain.EventTypes() {
		t.Run(typ, func(t *testing.T) {
			ev := sampleEvent(t, typ)
			e := stored(t, domain.NewTenantID(), 3, 42, ev)
			body, err := encodeBody(e)
			if err != nil {
				t.Fatalf("encode body: %v", err)
			}
			refs := secretRefs(ev)
			if len(refs) > 0 {
				withSecrets++
			}
			for _, ref := range refs {
				if ref.Ciphertext == "" || !bytes.Contains(e.Data, []byte(ref.Ciphertext)) {
					t.Fatalf("sample is wrong: stored data lacks its ciphertext")
				}
				if bytes.Contains(body, []byte(ref.Ciphertext)) {
					t.Errorf("body contains the ciphertext: %s", body)
				}
				if !bytes.Contains(body, []byte(strconv.Quote(ref.Hint))) {
					t.Errorf("body lacks the hint %q: %s", ref.Hint, body)
				}
			}
			if bytes.Contains(bytes.ToLower(body), []byte("ciphertext")) {
				t.Errorf("body mentions ciphertext: %s", body)
			}

			var got domain.StoredEvent
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not an envelope: %v", err)
			}
			if got.Hash != "" || got.ChainHash != "" {
				t.Errorf("body carries store hashes: %s", body)
			}
			want := e
			want.Data, want.Hash, want.ChainHash = got.Data, "", ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("envelope changed:\n got %+v\nwant %+v", got, want)
			}
			// The data still decodes as the event, with hints but no ciphertext.
			decoded, err := got.Decode()
			if err != nil {
				t.Fatalf("decode published data: %v", err)
			}
			for i, ref := range secretRefs(decoded) {
				if ref.Ciphertext != "" || ref.Hint != refs[i].Hint {
					t.Errorf("decoded secret = %+v, want only hint %q", ref, refs[i].Hint)
				}
			}
			if len(refs) == 0 && !bytes.Equal(got.Data, e.Data) {
				t.Errorf("data without secrets changed: %s → %s", e.Data, got.Data)
			}
		})
	}
	if withSecrets != 4 {
		t.Errorf("%d event types carry secrets, want the 4 the brief names", withSecrets)
	}
}

func TestStripSecretsIsGeneric(t *testing.T) {
	in := `{"a":{"ciphertext":"X1","hint":"****1"},"list":[{"CipherText":"X2","hint":"h"},[{"deep":{"ciphertext":"X3"}}]],` +
		`"big":12345678901234567890,"f":1.50,"s":"the word ciphertext in a value stays","esc":{"cipher\u0074ext":"X4"}}`
	out, err := domain.RedactSecrets(json.RawMessage(in))
	if err != nil {
		t.Fatalf("strip: %v", err)
	}
	for _, x := range []string{"X1", "X2", "X3", "X4"} {
		if strings.Contains(string(out), `"`+x+`"`) {
			t.Errorf("%s survived: %s", x, out)
		}
	}
	for _, keep := range []string{`"hint":"****1"`, `12345678901234567890`, `1.50`, `the word ciphertext in a value stays`, `"deep":{}`} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("%s lost: %s", keep, out)
		}
	}
	if _, err := domain.RedactSecrets(json.RawMessage(`{"ciphertext":`)); err == nil {
		t.Error("malformed data accepted")
	}
}

func TestPublishingProperties(t *testing.T) {
	e := stored(t, domain.NewTenantID(), 7, 1234, sampleEvent(t, domain.EventWABALinked))
	e.Metadata.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	p, err := publishing(e)
	if err != nil {
		t.Fatalf("publishing: %v", err)
	}
	if p.MessageId != e.EventID || p.ContentType != "application/json" || p.DeliveryMode != amqp.Persistent {
		t.Errorf("properties: id %q type %q mode %d", p.MessageId, p.ContentType, p.DeliveryMode)
	}
	want := map[string]string{
		"event_type": "WABALinked", "tenant_id": string(e.TenantID), "stream_version": "7",
		"global_position": "1234", "traceparent": e.Metadata.TraceParent,
	}
	for k, v := range want {
		if got, ok := p.Headers[k].(string); !ok || got != v {
			t.Errorf("header %s = %#v, want string %q", k, p.Headers[k], v)
		}
	}
	for k, v := range p.Headers {
		if _, ok := v.(string); !ok {
			t.Errorf("header %s is %T, not a string", k, v)
		}
	}
	e.Metadata.TraceParent = ""
	if p, _ := publishing(e); p.Headers[HeaderTraceParent] != nil {
		t.Errorf("traceparent header without a trace parent: %#v", p.Headers[HeaderTraceParent])
	}
}
