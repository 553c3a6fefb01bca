package eventstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"tenant-service/domain"
)

// checkpointKind marks a signed checkpoint. Persisted in auditors' files:
// changing it makes their checkpoints unreadable.
const checkpointKind = "tenant-service-checkpoint"

// Checkpoint is a signed statement of the log's head: "the log held Position
// events, and its chain hash there was ChainHash". An auditor who keeps one
// away from the database detects a history shortened afterwards (the newest
// events deleted and the head rewound to match), which no check of the
// database alone can: the shortened log is consistent in itself.
type Checkpoint struct {
	Kind      string          `json:"kind"`
	Version   int             `json:"version"`
	Position  domain.Position `json:"position"`
	ChainHash string          `json:"chainHash"` // hex
	SignedAt  time.Time       `json:"signedAt"`
	PublicKey string          `json:"publicKey"` // base64 Ed25519 public key that signed it
	Signature string          `json:"signature"` // base64 Ed25519 signature of signedBytes
}

// signedBytes is what the signature covers. Persisted: see checkpointKind.
func (c Checkpoint) signedBytes() []byte {
	return []byte(strings.Join([]string{checkpointKind, strconv.Itoa(c.Version), strconv.FormatInt(int64(c.Position), 10),
		c.ChainHash, c.SignedAt.UTC().Format(time.RFC3339Nano)}, "\n"))
}

// SignCheckpoint reads the head (position and chain hash) and signs it with
// key at now.
func (s *Reader) SignCheckpoint(ctx context.Context, key ed25519.PrivateKey, now time.Time) (Checkpoint, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Checkpoint{}, errors.New("sign checkpoint: the signing key is not an Ed25519 key")
	}
	var head int64
	var chain []byte
	if err := s.pool.QueryRow(ctx, `SELECT position, chain_hash FROM es_head WHERE id = 1`).Scan(&head, &chain); err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: read head: %w", err)
	}
	c := Checkpoint{Kind: checkpointKind, Version: 1, Position: domain.Position(head), ChainHash: hex.EncodeToString(chain),
		SignedAt:  now.UTC().Truncate(time.Second),
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.signedBytes()))
	return c, nil
}

// ReadCheckpoint decodes a checkpoint and checks its signature against the
// public key the auditor trusts (never the one the file names: whoever
// shortened the log could sign a new checkpoint with a key of their own).
func ReadCheckpoint(r io.Reader, trusted ed25519.PublicKey) (Checkpoint, error) {
	var c Checkpoint
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Kind != checkpointKind || c.Version != 1 {
		return Checkpoint{}, fmt.Errorf("read checkpoint: not a %s file", checkpointKind)
	}
	if len(trusted) != ed25519.PublicKeySize {
		return Checkpoint{}, errors.New("read checkpoint: a trusted Ed25519 public key is required")
	}
	if pk, err := base64.StdEncoding.DecodeString(c.PublicKey); err != nil || !bytes.Equal(pk, trusted) {
		return Checkpoint{}, errors.New("read checkpoint: it was signed with another key than the trusted one")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(trusted, c.signedBytes(), sig) {
		return Checkpoint{}, errors.New("read checkpoint: the signature does not verify: the file was altered")
	}
	if _, err := hex.DecodeString(c.ChainHash); err != nil || len(c.ChainHash) != 64 {
		return Checkpoint{}, errors.New("read checkpoint: the chain hash is not a SHA-256 value")
	}
	return c, nil
}

// checkAnchors compares the chain hashes the verifier saw at the
// checkpoints' positions with the signed ones. last is the last position
// the log holds.
func checkAnchors(v *Verifier, checkpoints []Checkpoint) *Break {
	for _, c := range checkpoints {
		if c.Position == 0 {
			continue
		}
		seen, ok := v.anchors[c.Position]
		switch {
		case !ok && v.LastPosition() < c.Position:
			return &Break{Position: v.LastPosition() + 1, Reason: fmt.Sprintf(
				"a checkpoint signed at %s says the log held %d events; it now ends at %d: the history was shortened",
				c.SignedAt.Format(time.RFC3339), c.Position, v.LastPosition())}
		case !ok:
			return &Break{Position: c.Position, Reason: fmt.Sprintf("position %d of the checkpoint is not in what was verified", c.Position)}
		case hex.EncodeToString(seen) != c.ChainHash:
			return &Break{Position: c.Position, Reason: fmt.Sprintf(
				"the chain hash at position %d differs from the one signed at %s: the history up to there was rewritten",
				c.Position, c.SignedAt.Format(time.RFC3339))}
		}
	}
	return nil
}
