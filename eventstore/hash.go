package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"

	"tenant-service/domain"
)

// ZeroHash is the hash before the first event of a stream and of the global chain.
var ZeroHash = make([]byte, sha256.Size)

// EventHash returns SHA-256 over the stream predecessor's hash and the event's
// content: every field but its global position and hashes.
func EventHash(prevStreamHash []byte, e domain.StoredEvent) ([]byte, error) {
	meta, err := json.Marshal(e.Metadata)
	if err != nil {
		return nil, err
	}
	return eventHash(prevStreamHash, e, meta)
}

// eventHash is EventHash over the metadata as JSON (as stored, when
// verifying the database: a key added by hand then breaks the hash too).
func eventHash(prevStreamHash []byte, e domain.StoredEvent, metaJSON []byte) ([]byte, error) {
	data, err := Canonical(e.Data)
	if err != nil {
		return nil, err
	}
	meta, err := Canonical(metaJSON)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(prevStreamHash)
	for _, s := range []string{e.EventID, e.StreamID, string(e.TenantID), e.Type,
		strconv.FormatInt(int64(e.Version), 10), strconv.Itoa(e.SchemaVersion),
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
