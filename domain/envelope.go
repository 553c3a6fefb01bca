package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Metadata travels with every stored event: who caused it and in which request.
type Metadata struct {
	Actor          string `json:"actor,omitempty"` // acting API key identity, e.g. "admin:3f9a1c2b"
	ActorRole      string `json:"actorRole,omitempty"`
	RequestID      string `json:"requestId,omitempty"`
	CorrelationID  string `json:"correlationId,omitempty"`
	CausationID    string `json:"causationId,omitempty"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	TraceParent    string `json:"traceParent,omitempty"`
}

// StoredEvent is an event as the store keeps it, with its place in the stream
// and in the global feed.
type StoredEvent struct {
	EventID       string          `json:"eventId"`
	StreamID      string          `json:"streamId"`
	TenantID      TenantID        `json:"tenantId"`
	Type          string          `json:"type"`
	Version       Version         `json:"version"`
	Position      Position        `json:"position"`
	OccurredAt    time.Time       `json:"occurredAt"`
	SchemaVersion int             `json:"schemaVersion"`
	Data          json.RawMessage `json:"data"`
	Metadata      Metadata        `json:"metadata"`
	Hash          string          `json:"hash,omitempty"`      // hex SHA-256 over the event and its stream predecessor
	ChainHash     string          `json:"chainHash,omitempty"` // hex SHA-256 over the global chain up to this event
}

// Decode returns the typed event.
func (e StoredEvent) Decode() (Event, error) {
	return DecodeEvent(e.Type, e.SchemaVersion, e.Data)
}

// EventFilter narrows a read of the global feed. Zero fields do not filter.
type EventFilter struct {
	TenantID TenantID
	Types    []string
	Actor    string
	From     time.Time // occurred at or after
	To       time.Time // occurred before
}

// EventPage is one page of a filtered read of the feed or of a stream.
type EventPage struct {
	Events []StoredEvent
	// Next is the cursor of the next page (a global position for the feed,
	// a stream version for a stream); 0 when there is nothing more to read.
	Next int64
	// Head, for a page of the feed, is the position of the last committed
	// event when the page was read.
	Head Position
}

// secretKey is the field name of the ciphertext in a SecretRef.
const secretKey = "ciphertext"

// RedactSecrets returns event data with every sealed secret reduced to its
// hint: every object field named "ciphertext" (in any case) is removed, at
// any depth, so a SecretRef is left as {"hint": "****abcd"}. It does not
// need to know the event types. Numbers keep their exact text. Use it
// wherever event data leaves the service (API responses, messages).
func RedactSecrets(data json.RawMessage) (json.RawMessage, error) {
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
		return nil, fmt.Errorf("redact secrets: decode data: %w", err)
	}
	out, err := json.Marshal(dropSecrets(doc))
	if err != nil {
		return nil, fmt.Errorf("redact secrets: encode data: %w", err)
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
