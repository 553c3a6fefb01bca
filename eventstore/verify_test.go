package eventstore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/eventstore/storetest"
)

// seedLog appends n tenants with three events each.
func seedLog(t testing.TB, s *eventstore.Store, n int) []domain.TenantID {
	ctx := context.Background()
	var ids []domain.TenantID
	for i := 0; i < n; i++ {
		id := domain.NewTenantID()
		ids = append(ids, id)
		if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
			Events:   []domain.Event{created(id, "Tenant <&> é"), domain.TenantSuspended{Reason: "r"}, domain.TenantReactivated{}},
			Metadata: domain.Metadata{Actor: "admin:abc", RequestID: "r1"}}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func verify(t *testing.T, s *eventstore.Store) eventstore.VerifyResult {
	t.Helper()
	res, err := s.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tamper(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntactLog(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	seedLog(t, s, 20)
	res := verify(t, s)
	if res.Break != nil || res.Checked != 60 || res.Head != 60 {
		t.Fatalf("intact log: %+v %v", res, res.Break)
	}
}

// Each kind of hand edit is caught and named by its position.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sql     string
		pos     domain.Position
		keyword string
	}{
		{"edited payload", `UPDATE es_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE global_position = 17`, 17, "edited"},
		{"edited metadata", `UPDATE es_events SET metadata = jsonb_set(metadata, '{actor}', '"admin:evil"') WHERE global_position = 23`, 23, "edited"},
		{"metadata key added", `UPDATE es_events SET metadata = metadata || '{"note":"innocent"}' WHERE global_position = 12`, 12, "edited"},
		{"edited time", `UPDATE es_events SET occurred_at = occurred_at + interval '1 hour' WHERE global_position = 5`, 5, "edited"},
		{"deleted row", `DELETE FROM es_events WHERE global_position = 30`, 31, "deleted"},
		{"deleted last row", `DELETE FROM es_events WHERE global_position = 60`, 60, "deleted"},
		{"swapped order", `UPDATE es_events SET global_position = CASE global_position WHEN 40 THEN 41 ELSE 40 END,
			chain_hash = CASE global_position WHEN 40 THEN (SELECT chain_hash FROM es_events WHERE global_position = 41)
			ELSE (SELECT chain_hash FROM es_events WHERE global_position = 40) END WHERE global_position IN (40, 41)`, 40, ""},
		{"swapped payloads", `UPDATE es_events e SET data = o.data FROM es_events o
			WHERE (e.global_position, o.global_position) IN ((7, 8), (8, 7))`, 7, "edited"},
		// No foreign key ties events to their stream (migration 00011): verify does.
		{"stream row deleted", `DELETE FROM es_streams WHERE stream_id = (SELECT stream_id FROM es_events WHERE global_position = 33)`, 60, "not recorded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			seedLog(t, s, 20)
			// The PK and unique constraints would stop some edits; an attacker with table access drops them.
			tamper(t, pool, `ALTER TABLE es_events DROP CONSTRAINT es_events_pkey CASCADE; ALTER TABLE es_events DROP CONSTRAINT es_events_stream_id_version_key`)
			tamper(t, pool, c.sql)
			res := verify(t, s)
			if res.Break == nil {
				t.Fatalf("tampering not detected: %+v", res)
			}
			if res.Break.Position != c.pos || !strings.Contains(res.Break.Reason, c.keyword) {
				t.Fatalf("break = %v, want position %d (%s)", res.Break, c.pos, c.keyword)
			}
		})
	}
}

func TestExportVerifiesAway(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ids := seedLog(t, s, 10)
	ctx := context.Background()
	for _, q := range []eventstore.ExportQuery{{}, {TenantID: ids[3]}, {FromPosition: 7, ToPosition: 20}} {
		var buf bytes.Buffer
		n, err := s.Export(ctx, q, &buf, nil)
		if err != nil || n == 0 {
			t.Fatalf("export %+v: %d %v", q, n, err)
		}
		res, err := eventstore.VerifyExport(bytes.NewReader(buf.Bytes()), nil)
		if err != nil || res.Break != nil || res.Checked != n {
			t.Fatalf("verify export %+v: %+v %v %v", q, res, res.Break, err)
		}
		// An edited line is caught.
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		header, lines := lines[0], lines[1:]
		lines[1] = strings.Replace(lines[1], `"reason":"r"`, `"reason":"x"`, 1)
		lines[1] = strings.Replace(lines[1], `"name":"Tenant`, `"name":"Tenet`, 1)
		res, _ = eventstore.VerifyExport(strings.NewReader(header+"\n"+strings.Join(lines, "\n")), nil)
		if res.Break == nil {
			t.Fatalf("edited export line verified for %+v", q)
		}
		// A removed line inside the export is caught.
		restored := strings.Split(strings.TrimSpace(buf.String()), "\n")[1:]
		cut := append(append([]string{header}, restored[:1]...), restored[2:]...)
		res, _ = eventstore.VerifyExport(strings.NewReader(strings.Join(cut, "\n")), nil)
		if res.Break == nil {
			t.Fatalf("export with a removed line verified for %+v", q)
		}
	}
}

// The tail is anchored: deleting the newest event with the head rewound is
// caught by the streams' recorded versions; rewinding those too is caught
// by a signed checkpoint taken before.
func TestVerifyAnchorsTheTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)

	s, pool := newStore(t)
	seedLog(t, s, 5)
	// Only the newest event deleted and the head rewound: the stream's
	// recorded version gives it away.
	tamper(t, pool, `DELETE FROM es_events WHERE global_position = 15`)
	tamper(t, pool, `UPDATE es_head SET position = 14, chain_hash = (SELECT chain_hash FROM es_events WHERE global_position = 14)`)
	if res := verify(t, s); res.Break == nil || !strings.Contains(res.Break.Reason, "newest events were deleted") {
		t.Fatalf("a deleted tail with only the head rewound: %+v %v", res, res.Break)
	}

	s, pool = newStore(t)
	seedLog(t, s, 5)
	cp, err := s.SignCheckpoint(ctx, key, time.Now())
	if err != nil || cp.Position != 15 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	var file bytes.Buffer
	_ = json.NewEncoder(&file).Encode(cp)
	read, err := eventstore.ReadCheckpoint(bytes.NewReader(file.Bytes()), pub)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.Verify(ctx, nil, read); err != nil || res.Break != nil {
		t.Fatalf("intact log against its checkpoint: %+v %v", res.Break, err)
	}
	seedLog(t, s, 1) // history grows after the checkpoint: still fine
	if res, err := s.Verify(ctx, nil, read); err != nil || res.Break != nil {
		t.Fatalf("grown log against an older checkpoint: %+v %v", res.Break, err)
	}
	storetest.CutTail(t, pool)
	storetest.CutTail(t, pool)
	storetest.CutTail(t, pool)
	storetest.CutTail(t, pool) // now below the checkpoint's 15
	if res := verify(t, s); res.Break != nil {
		t.Fatalf("the consistent shortened log should pass on its own (that is why checkpoints exist): %v", res.Break)
	}
	res, err := s.Verify(ctx, nil, read)
	if err != nil || res.Break == nil || !strings.Contains(res.Break.Reason, "shortened") {
		t.Fatalf("shortened log against the checkpoint: %+v %v", res.Break, err)
	}

	// An export is checked against the checkpoint too.
	var export bytes.Buffer
	if _, err := s.Export(ctx, eventstore.ExportQuery{}, &export, nil); err != nil {
		t.Fatal(err)
	}
	res, err = eventstore.VerifyExport(bytes.NewReader(export.Bytes()), nil, read)
	if err != nil || res.Break == nil || !strings.Contains(res.Break.Reason, "shortened") {
		t.Fatalf("shortened export against the checkpoint: %+v %v", res.Break, err)
	}

	// A checkpoint altered, or signed by another key, is refused.
	forged := cp
	forged.Position = 3
	var bad bytes.Buffer
	_ = json.NewEncoder(&bad).Encode(forged)
	if _, err := eventstore.ReadCheckpoint(&bad, pub); err == nil {
		t.Fatal("an altered checkpoint was accepted")
	}
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	resigned, _ := s.SignCheckpoint(ctx, otherKey, time.Now())
	bad.Reset()
	_ = json.NewEncoder(&bad).Encode(resigned)
	if _, err := eventstore.ReadCheckpoint(&bad, pub); err == nil {
		t.Fatal("a checkpoint signed by another key was accepted")
	}
	_ = otherPub
}
