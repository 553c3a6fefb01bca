package domain

import (
	"encoding/json"
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

// RedactSecrets returns event data with every sealed secret reduced to its
// hint: objects holding a "ciphertext" lose that key. Use it wherever event
// data leaves the service (API responses, messages).
func RedactSecrets(data json.RawMessage) json.RawMessage {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return data
	}
	if !redact(v) {
		return data
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return out
}

func redact(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["ciphertext"]; ok {
			delete(x, "ciphertext")
			changed = true
		}
		for _, c := range x {
			changed = redact(c) || changed
		}
	case []any:
		for _, c := range x {
			changed = redact(c) || changed
		}
	}
	return changed
}
