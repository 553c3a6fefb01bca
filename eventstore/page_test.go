package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

// seedHistory appends tenants × perTenant events with several actors and
// types, the clock advancing a minute per tenant, and returns every event.
func seedHistory(t testing.TB, s *Store, tenants, perTenant int, clock *time.Time) []domain.StoredEvent {
	t.Helper()
	ctx := context.Background()
	for i := range tenants {
		id := domain.NewTenantID()
		evs := []domain.Event{domain.TenantCreated{TenantID: id, Name: fmt.Sprint("t", i)}}
		for j := 1; j < perTenant; j++ {
			switch {
			case j%17 == 0:
				evs = append(evs, domain.WABALinked{WABAID: "1", PhoneNumberID: fmt.Sprintf("%d%d", i, j), Source: "manual"})
			case j%2 == 0:
				evs = append(evs, domain.TenantSuspended{})
			default:
				evs = append(evs, domain.TenantReactivated{})
			}
		}
		actor := "admin:aaaa0000"
		if i%25 == 0 {
			actor = "admin:rare0000"
		}
		*clock = clock.Add(time.Minute)
		if _, err := s.Append(ctx, Append{StreamID: id.StreamID(), TenantID: id, Events: evs,
			Metadata: domain.Metadata{Actor: actor}}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ReadAll(ctx, 0, 1<<30, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func matches(e domain.StoredEvent, f Filter) bool {
	return (f.TenantID == "" || e.TenantID == f.TenantID) && (len(f.Types) == 0 || slices.Contains(f.Types, e.Type)) &&
		(f.Actor == "" || e.Metadata.Actor == f.Actor) && (f.From.IsZero() || !e.OccurredAt.Before(f.From)) &&
		(f.To.IsZero() || e.OccurredAt.Before(f.To))
}

// Paging through a filtered feed (and a filtered stream) with nextCursor
// yields exactly the matching events in order, however short the pages are.
func TestFilteredPagesYieldExactlyTheMatches(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestStore(t, testenv.NewPool(t), Config{Now: func() time.Time { return clock }})
	all := seedHistory(t, s, 300, 40, &clock) // 12,000 events: several pages of MaxScan
	ctx := context.Background()
	some := all[4321]
	filters := []Filter{
		{},
		{TenantID: some.TenantID},
		{Types: []string{domain.EventWABALinked}},
		{Types: []string{domain.EventWABALinked, domain.EventTenantCreated}},
		{Actor: "admin:rare0000"},
		{Actor: "admin:rare0000", Types: []string{domain.EventTenantCreated}},
		{From: some.OccurredAt, To: some.OccurredAt.Add(30 * time.Minute)},
		{From: some.OccurredAt, Types: []string{domain.EventWABALinked}},
		{To: all[100].OccurredAt},
		{From: clock.Add(time.Hour)},
		{TenantID: some.TenantID, Actor: "nobody:00000000"},
	}
	for _, f := range filters {
		var want []string
		for _, e := range all {
			if matches(e, f) {
				want = append(want, e.EventID)
			}
		}
		var got []string
		var after int64
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatalf("filter %+v: no end after 100 pages", f)
			}
			p, err := s.ReadFeed(ctx, domain.Position(after), 500, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				got = append(got, e.EventID)
			}
			if p.Next == 0 {
				break
			}
			after = p.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("filter %+v: %d events, want %d", f, len(got), len(want))
		}
	}
	// A stream, filtered and paged.
	f := Filter{Types: []string{domain.EventTenantSuspended}}
	var want, got []string
	for _, e := range all {
		if e.TenantID == some.TenantID && matches(e, f) {
			want = append(want, e.EventID)
		}
	}
	var after domain.Version
	for {
		p, err := s.ReadStreamPage(ctx, some.StreamID, after, 3, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			got = append(got, e.EventID)
		}
		if p.Next == 0 {
			break
		}
		after = domain.Version(p.Next)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("filtered stream: %d events, want %d", len(got), len(want))
	}
}

// Every filter of the history routes is an index range scan, and a page
// examines a bounded number of entries: EXPLAIN ANALYZE of each page query
// shows no sequential scan and at most MaxScan rows read per index branch.
func TestFilteredPagesAreBoundedIndexScans(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pool := testenv.NewPool(t)
	s := newTestStore(t, pool, Config{Now: func() time.Time { return clock }})
	all := seedHistory(t, s, 400, 40, &clock) // 16,000 events
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `ANALYZE es_events`); err != nil {
		t.Fatal(err)
	}
	type query struct {
		sql  string
		args []any
	}
	var queries []query
	s.explain = func(sql string, args []any) { queries = append(queries, query{sql, args}) }
	some := all[7777]
	cases := map[string]func() error{
		"tenant": func() error { _, err := s.ReadFeed(ctx, 0, 50, Filter{TenantID: some.TenantID}); return err },
		"type": func() error {
			_, err := s.ReadFeed(ctx, 0, 50, Filter{Types: []string{domain.EventWABALinked}})
			return err
		},
		"types": func() error {
			_, err := s.ReadFeed(ctx, 0, 50, Filter{Types: []string{domain.EventWABALinked, domain.EventTenantCreated}})
			return err
		},
		"actor": func() error { _, err := s.ReadFeed(ctx, 0, 50, Filter{Actor: "admin:rare0000"}); return err },
		"time": func() error {
			_, err := s.ReadFeed(ctx, 0, 50, Filter{From: some.OccurredAt, To: some.OccurredAt.Add(time.Hour)})
			return err
		},
		"rare": func() error {
			_, err := s.ReadFeed(ctx, 0, 50, Filter{Actor: "admin:rare0000", Types: []string{domain.EventWABALinked}})
			return err
		},
		"stream": func() error {
			_, err := s.ReadStreamPage(ctx, some.StreamID, 0, 10, Filter{Types: []string{domain.EventTenantSuspended}})
			return err
		},
		"unfiltered": func() error { _, err := s.ReadFeed(ctx, 0, 50, Filter{}); return err },
	}
	for name, run := range cases {
		queries = nil
		if err := run(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, q := range queries {
			var raw []byte
			if err := pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q.sql, q.args...).Scan(&raw); err != nil {
				t.Fatalf("%s: explain: %v", name, err)
			}
			var plan []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &plan); err != nil {
				t.Fatal(err)
			}
			var lines []string
			plan[0].Plan.walk(0, func(depth int, n planNode) {
				lines = append(lines, fmt.Sprintf("%s%s %s (rows %d, removed by filter %d)", strings.Repeat("  ", depth), n.Type, n.Index, n.Rows, n.Removed))
				if n.Relation == "es_events" && n.Type == "Seq Scan" {
					t.Errorf("%s: a sequential scan of es_events", name)
				}
				if n.Relation == "es_events" && n.Rows+n.Removed > MaxScan {
					t.Errorf("%s: a scan read %d rows, more than MaxScan", name, n.Rows+n.Removed)
				}
			})
			t.Logf("%s:\n%s", name, strings.Join(lines, "\n"))
		}
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Rows     int64      `json:"Actual Rows"`
	Removed  int64      `json:"Rows Removed by Filter"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(depth int, fn func(int, planNode)) {
	fn(depth, n)
	for _, c := range n.Plans {
		c.walk(depth+1, fn)
	}
}

// noReadModel stands in for the read model in the store's own tests.
type noReadModel struct{}

func (noReadModel) Inline(domain.State, []domain.StoredEvent) ([]Statement, error) { return nil, nil }

func newTestStore(t testing.TB, pool *pgxpool.Pool, cfg Config) *Store {
	t.Helper()
	s, err := New(pool, noReadModel{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
