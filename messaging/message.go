package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
)

// secretKey is the field name of the ciphertext in a domain.SecretRef. Every
// object field with this name (compared case-insensitively, as Go's JSON
// decoder matches fields) is removed from published event data.
const secretKey = "ciphertext"

// appID names the publisher in the AMQP app-id property.
const appID = "tenant-service"

// publishing returns the AMQP message for a stored event: persistent, JSON,
// message id = event id, string headers, body = the envelope without secrets.
func publishing(e domain.StoredEvent) (amqp.Publishing, error) {
	body, err := encodeBody(e)
	if err != nil {
		return amqp.Publishing{}, err
	}
	headers := amqp.Table{
		HeaderEventType:      e.Type,
		HeaderTenantID:       string(e.TenantID),
		HeaderStreamID:       e.StreamID,
		HeaderStreamVersion:  strconv.FormatInt(int64(e.Version), 10),
		HeaderGlobalPosition: strconv.FormatInt(int64(e.Position), 10),
		HeaderSchemaVersion:  strconv.Itoa(e.SchemaVersion),
	}
	if e.Metadata.TraceParent != "" {
		headers[HeaderTraceParent] = e.Metadata.TraceParent
	}
	return amqp.Publishing{
		Headers:       headers,
		ContentType:   ContentType,
		DeliveryMode:  amqp.Persistent,
		MessageId:     e.EventID,
		CorrelationId: e.Metadata.CorrelationID,
		Timestamp:     e.OccurredAt,
		Type:          e.Type,
		AppId:         appID,
		Body:          body,
	}, nil
}

// encodeBody returns the JSON message body for a stored event: the envelope
// (eventId, streamId, tenantId, type, version, position, occurredAt,
// schemaVersion, data, metadata) with every ciphertext removed from data, so
// a domain.SecretRef is published as just its hint. The store's hash fields
// are left out: they cover the ciphertext, so no consumer could check them.
func encodeBody(e domain.StoredEvent) ([]byte, error) {
	data, err := stripSecrets(e.Data)
	if err != nil {
		return nil, fmt.Errorf("strip secrets from event %s (%s): %w", e.EventID, e.Type, err)
	}
	e.Data = data
	e.Hash, e.ChainHash = "", ""
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s (%s): %w", e.EventID, e.Type, err)
	}
	return body, nil
}

// stripSecrets returns the JSON document with every object field named
// "ciphertext" removed, at any depth. It does not know the event types: any
// secret stored as a domain.SecretRef is left as {"hint": "****abcd"}.
// Numbers keep their exact text.
func stripSecrets(data json.RawMessage) (json.RawMessage, error) {
	if len(data) == 0 {
		return data, nil
	}
	// Fast path: no field can be named ciphertext when neither the word (in
	// any case) nor an escape sequence that could spell it occurs.
	if !bytes.Contains(bytes.ToLower(data), []byte(secretKey)) && !bytes.Contains(data, []byte(`\u`)) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode data: %w", err)
	}
	out, err := json.Marshal(dropSecrets(doc))
	if err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	return out, nil
}

func dropSecrets(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if strings.EqualFold(k, secretKey) {
				delete(v, k)
				continue
			}
			v[k] = dropSecrets(child)
		}
	case []any:
		for i, child := range v {
			v[i] = dropSecrets(child)
		}
	}
	return v
}
