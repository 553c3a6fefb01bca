package messaging

import (
	"encoding/json"
	"fmt"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"tenant-service/domain"
)

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
	data, err := domain.RedactSecrets(e.Data)
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
