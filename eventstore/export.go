package eventstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// ExportQuery selects what Export writes. Zero fields do not filter.
type ExportQuery struct {
	TenantID     domain.TenantID
	FromPosition domain.Position // inclusive
	ToPosition   domain.Position // inclusive
}

// exportKind marks the header line of an export. Persisted in exports:
// changing it makes older exports unreadable by verify.
const exportKind = "tenant-service-export"

// ExportHeader is the first line of an export: what it selected.
type ExportHeader struct {
	Kind         string          `json:"kind"`
	Version      int             `json:"version"`
	TenantID     domain.TenantID `json:"tenantId,omitempty"`
	FromPosition domain.Position `json:"fromPosition,omitempty"`
	ToPosition   domain.Position `json:"toPosition,omitempty"`
}

// Export writes the selected events as JSON Lines (one LinkedEvent a line,
// with the predecessor hashes, so the export verifies on its own) after an
// ExportHeader line, and returns
// how many it wrote. progress (when not nil) is called after each batch.
func (s *Reader) Export(ctx context.Context, q ExportQuery, w io.Writer, progress func(done int64)) (int64, error) {
	after := max(q.FromPosition-1, 0)
	enc := json.NewEncoder(w)
	if err := enc.Encode(ExportHeader{Kind: exportKind, Version: 1, TenantID: q.TenantID,
		FromPosition: q.FromPosition, ToPosition: q.ToPosition}); err != nil {
		return 0, fmt.Errorf("export: write: %w", err)
	}
	var n int64
	for {
		var args postgres.Args
		where := "e.global_position > " + args.Add(int64(after))
		if q.ToPosition > 0 {
			where += " AND e.global_position <= " + args.Add(int64(q.ToPosition))
		}
		if q.TenantID != "" {
			where += " AND e.tenant_id = " + args.Add(string(q.TenantID))
		}
		rows, err := s.pool.Query(ctx, `SELECT e.global_position, e.event_id::text, e.stream_id, e.version, e.tenant_id::text,
				e.event_type, e.schema_version, e.data, e.metadata, e.occurred_at, e.hash, e.chain_hash,
				coalesce(p.hash, ''::bytea), coalesce(c.chain_hash, ''::bytea)
			FROM es_events e
			LEFT JOIN es_events p ON p.stream_id = e.stream_id AND p.version = e.version - 1
			LEFT JOIN es_events c ON c.global_position = e.global_position - 1
			WHERE `+where+` ORDER BY e.global_position LIMIT 5000`, args...)
		if err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		batch := 0
		for rows.Next() {
			var le LinkedEvent
			var prev, prevChain []byte
			e, err := scanEvent(rowWithExtra{rows, &prev, &prevChain})
			if err != nil {
				rows.Close()
				return n, fmt.Errorf("export: %w", err)
			}
			le.StoredEvent = e
			if e.Version == 1 {
				prev = ZeroHash
			}
			if e.Position == 1 {
				prevChain = ZeroHash
			}
			if len(prev) > 0 {
				le.PrevHash = hex.EncodeToString(prev)
			}
			if len(prevChain) > 0 {
				le.PrevChainHash = hex.EncodeToString(prevChain)
			}
			if err := enc.Encode(le); err != nil {
				rows.Close()
				return n, fmt.Errorf("export: write: %w", err)
			}
			after = e.Position
			n++
			batch++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		if progress != nil {
			progress(n)
		}
		if batch < 5000 {
			return n, nil
		}
	}
}

// rowWithExtra scans the event columns followed by two extra columns.
type rowWithExtra struct {
	row   interface{ Scan(...any) error }
	extra *[]byte
	more  *[]byte
}

func (r rowWithExtra) Scan(dest ...any) error {
	return r.row.Scan(append(dest, r.extra, r.more)...)
}

// VerifyExport checks a JSON Lines export read from r, and that each
// checkpoint's position is in it with the chain hash the checkpoint signed
// (an export that ends before a checkpoint's position is a shortened
// history; an export of one tenant cannot be checked against a checkpoint).
func VerifyExport(r io.Reader, progress func(done int64), checkpoints ...Checkpoint) (VerifyResult, error) {
	dec := json.NewDecoder(r)
	var head ExportHeader
	if err := dec.Decode(&head); err != nil || head.Kind != exportKind {
		return VerifyResult{}, fmt.Errorf("read export: the first line is not a %s header", exportKind)
	}
	v := NewVerifier()
	v.Partial = true
	v.Contiguous = head.TenantID == ""
	if head.TenantID != "" && len(checkpoints) > 0 {
		return VerifyResult{}, errors.New("verify export: an export of one tenant cannot be checked against a checkpoint of the whole log")
	}
	for _, c := range checkpoints {
		v.Watch(c.Position)
	}
	batch := make([]LinkedEvent, 0, 5000)
	flush := func() {
		v.Check(batch)
		batch = batch[:0]
		if progress != nil {
			progress(v.Checked())
		}
	}
	for {
		var le LinkedEvent
		err := dec.Decode(&le)
		if err == io.EOF {
			break
		}
		if err != nil {
			return VerifyResult{Checked: v.Checked()}, fmt.Errorf("read export line %d: %w", v.Checked()+int64(len(batch))+1, err)
		}
		batch = append(batch, le)
		if len(batch) == cap(batch) {
			flush()
			if v.Break() != nil {
				break
			}
		}
	}
	if v.Break() == nil {
		flush()
	}
	res := VerifyResult{Checked: v.Checked(), Head: v.LastPosition(), Break: v.Break()}
	if res.Break == nil {
		res.Break = checkAnchors(v, checkpoints)
	}
	return res, nil
}
