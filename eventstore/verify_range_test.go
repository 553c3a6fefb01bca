package eventstore_test

import (
	"context"
	"strings"
	"testing"

	"tenant-service/domain"
	"tenant-service/eventstore/storetest"
)

func TestVerifyStreamFindsTheEditedEvent(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ids := seedLog(t, s, 4) // positions 1-3, 4-6, 7-9, 10-12
	ctx := context.Background()
	for _, id := range ids {
		res, err := s.VerifyStream(ctx, id.StreamID())
		if err != nil {
			t.Fatal(err)
		}
		if res.Break != nil || res.Checked != 3 || res.Version != 3 {
			t.Fatalf("intact stream: %+v %+v", res, res.Break)
		}
	}
	tamper(t, pool, `UPDATE es_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE global_position = 5`)
	res, err := s.VerifyStream(ctx, ids[1].StreamID())
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Break; b == nil || b.Position != 5 || b.Version != 2 || !strings.Contains(b.Reason, "edited") {
		t.Fatalf("tampered stream: %+v %+v", res, res.Break)
	}
	// The other streams are unaffected.
	if res, err = s.VerifyStream(ctx, ids[2].StreamID()); err != nil || res.Break != nil {
		t.Fatalf("other stream: %+v %v", res, err)
	}
	// A stream without events verifies at version 0.
	if res, err = s.VerifyStream(ctx, domain.NewTenantID().StreamID()); err != nil || res.Break != nil || res.Version != 0 || res.Checked != 0 {
		t.Fatalf("unknown stream: %+v %v", res, err)
	}
}

func TestVerifyStreamNoticesItsNewestEventsCut(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ids := seedLog(t, s, 2)
	// Delete the stream's last event but leave its record.
	tamper(t, pool, `DELETE FROM es_events WHERE global_position = 6`)
	res, err := s.VerifyStream(context.Background(), ids[1].StreamID())
	if err != nil {
		t.Fatal(err)
	}
	if res.Break == nil || res.Version != 3 {
		t.Fatalf("cut stream verified: %+v", res)
	}
}

func TestVerifyFeedPagesAreAnchored(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	seedLog(t, s, 5) // 15 events
	ctx := context.Background()
	var checked int64
	for after := domain.Position(0); ; {
		res, err := s.VerifyFeed(ctx, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if res.Break != nil || res.From != after+1 || res.Head != 15 {
			t.Fatalf("page after %d: %+v %+v", after, res, res.Break)
		}
		checked += res.Checked
		if res.To == res.Head {
			break
		}
		after = res.To
	}
	if checked != 15 {
		t.Fatalf("checked %d events, want 15", checked)
	}
	// An edit inside a later page is found there.
	tamper(t, pool, `UPDATE es_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE global_position = 11`)
	res, err := s.VerifyFeed(ctx, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Break; b == nil || b.Position != 11 || b.StreamID == "" {
		t.Fatalf("edited page: %+v %+v", res, res.Break)
	}
	// A page anchored after a rewritten chain hash does not verify, even
	// when the page itself is consistent.
	storetest.Tamper(t, pool, `UPDATE es_events SET chain_hash = sha256(chain_hash) WHERE global_position = 4`)
	if res, err = s.VerifyFeed(ctx, 4, 2); err != nil || res.Break == nil || res.Break.Position != 5 {
		t.Fatalf("page after a forged anchor: %+v %v", res, err)
	}
	// Deleted positions in the page are a break.
	tamper(t, pool, `DELETE FROM es_events WHERE global_position = 2`)
	if res, err = s.VerifyFeed(ctx, 0, 10); err != nil || res.Break == nil || res.Break.Position != 3 {
		t.Fatalf("gap: %+v %v", res, err)
	}
}
