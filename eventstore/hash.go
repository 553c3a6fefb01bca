package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"tenant-service/domain"
)

// ZeroHash is the hash before the first event of a stream and of the global chain.
var ZeroHash = make([]byte, sha256.Size)

// Canonical returns JSON in a canonical form: object keys sorted, no
// insignificant white space, numbers as written. PostgreSQL's jsonb re-renders
// documents, so hashes are taken over this form on write and on verify.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return out, nil
}

// EventHash returns SHA-256 over the stream predecessor's hash and the event's
// content: every field but its global position and hashes.
func EventHash(prevStreamHash []byte, e domain.StoredEvent) ([]byte, error) {
	data, err := Canonical(e.Data)
	if err != nil {
		return nil, err
	}
	metaRaw, err := json.Marshal(e.Metadata)
	if err != nil {
		return nil, err
	}
	meta, err := Canonical(metaRaw)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(prevStreamHash)
	for _, s := range []string{e.EventID, e.StreamID, string(e.TenantID), e.Type,
		fmt.Sprint(int64(e.Version)), fmt.Sprint(e.SchemaVersion),
		e.OccurredAt.UTC().Format(time.RFC3339Nano)} {
		writeField(h, []byte(s))
	}
	writeField(h, data)
	writeField(h, meta)
	return h.Sum(nil), nil
}

// ChainHash links an event into the global chain: SHA-256 over the previous
// chain hash, the event's position and its event hash.
func ChainHash(prevChain []byte, pos domain.Position, eventHash []byte) []byte {
	h := sha256.New()
	h.Write(prevChain)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(pos))
	h.Write(b[:])
	h.Write(eventHash)
	return h.Sum(nil)
}

type byteWriter interface{ Write([]byte) (int, error) }

// writeField writes a length-prefixed field so that field boundaries cannot shift.
func writeField(h byteWriter, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
