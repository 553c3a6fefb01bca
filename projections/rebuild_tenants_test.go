package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/projections"
)

// The rebuilt tables equal the ones appends wrote, row by row, claims
// included, whatever state the model was in before.
func TestRebuildTenantsEqualsInlineModel(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	w := &workload{f: f, rng: rand.New(rand.NewPCG(23, uint64(time.Now().UnixNano())))}
	for f.head() < 800 {
		w.step()
	}
	inline := f.dumpPG()
	dead := slices.DeleteFunc(slices.Clone(w.all), func(id domain.TenantID) bool { return slices.Contains(w.live, id) })
	if len(dead) == 0 || !strings.Contains(strings.Join(inline, "\n"), "phone-") {
		t.Fatal("the workload deleted no tenant or linked no phone number: it tests too little")
	}
	ctx := context.Background()
	live, other := w.live[0], w.live[1]
	for _, c := range []struct {
		name   string
		damage []string
	}{
		{"intact", nil},
		{"damaged", []string{
			`UPDATE tenants SET name = 'damaged', version = version + 7 WHERE tenant_id = '` + string(live) + `'`,
			`UPDATE tenants SET state = jsonb_set(state, '{name}', '"damaged"'), created_at = now() WHERE tenant_id = '` + string(other) + `'`,
			`UPDATE phone_number_claims SET waba_id = 'stale' WHERE ctid = (SELECT min(ctid) FROM phone_number_claims)`,
			`UPDATE phone_number_claims SET tenant_id = '` + string(other) + `' WHERE ctid = (SELECT max(ctid) FROM phone_number_claims) AND tenant_id <> '` + string(other) + `'`,
			`DELETE FROM integration_claims WHERE ctid = (SELECT min(ctid) FROM integration_claims)`,
			// A claim resurrected for a deleted tenant, and a row no event wrote.
			`INSERT INTO phone_number_claims VALUES ('resurrected', '` + string(dead[0]) + `', 'w')`,
			`INSERT INTO integration_claims VALUES ('resurrected', '` + string(dead[0]) + `')`,
			`INSERT INTO tenants SELECT gen_random_uuid(), name, external_ref, status, version, created_at, updated_at, state FROM tenants LIMIT 1`,
		}},
		{"empty", []string{`DELETE FROM phone_number_claims`, `DELETE FROM integration_claims`, `DELETE FROM tenants`}},
	} {
		for _, q := range c.damage {
			mustExec(t, f, q)
		}
		if c.damage != nil && slices.Equal(f.dumpPG(), inline) {
			t.Fatalf("%s: the damage changed nothing", c.name)
		}
		if err := f.tenants.RebuildTenants(ctx, f.store, nil); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := diffRows(f.dumpPG(), inline); err != nil {
			t.Fatalf("%s: the rebuilt model differs from the one appends wrote: %v", c.name, err)
		}
	}
}

// Appends that commit while the rebuild runs end up in the rebuilt model:
// those made after it read the log, and those made after it caught up, which
// only its catch-up under the lock can see. No update is lost and no claim
// a tenant released comes back.
func TestRebuildTenantsCatchesUpWithAppends(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	link := func(id domain.TenantID, phone string) {
		f.exec(id, func(t *domain.Tenant) error {
			return t.LinkWABA(domain.WABALinked{WABAID: "waba-" + string(id[len(id)-8:]), PhoneNumberID: phone})
		})
	}
	integrate := func(id domain.TenantID, in string) {
		f.exec(id, func(t *domain.Tenant) error { return t.LinkGenesysIntegration(in, nil) })
	}
	a, b, c, e := f.create("a"), f.create("b"), f.create("c"), f.create("e")
	link(a, "phone-a")
	integrate(a, "int-a")
	link(b, "phone-b")
	link(c, "phone-c")
	integrate(c, "int-c")
	var d, g domain.TenantID
	src := &pausingSource{RebuildSource: f.store}
	src.afterScan = func(scan int) {
		switch scan {
		case 1: // after the bulk read, before the first catch-up
			name := "a renamed"
			f.exec(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: &name}) })
			f.exec(b, func(t *domain.Tenant) error { return t.UnlinkWABA("phone-b") })
			d = f.create("d")
		case 2: // after the last catch-up before the lock: only the locked one sees these
			f.exec(c, func(t *domain.Tenant) error { return t.Delete("") })
			link(d, "phone-c")
			integrate(d, "int-c")
			f.exec(a, func(t *domain.Tenant) error { return t.UnlinkWABA("phone-a") })
			link(b, "phone-a")
			f.exec(e, func(t *domain.Tenant) error { return t.Suspend("") })
			g = f.create("g")
			link(g, "phone-g")
		}
	}
	if err := f.tenants.RebuildTenants(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	if src.scans != 2 || !src.locked {
		t.Fatalf("the rebuild scanned %d times before locking (locked: %v); the test expects 2", src.scans, src.locked)
	}
	checkModelMatchesEvents(t, f, []domain.TenantID{a, b, c, d, e, g})
	owners := map[string]string{}
	for _, row := range f.dumpPG() {
		if p := strings.Split(row, "|"); len(p) <= 3 {
			owners[p[0]] = p[1]
		}
	}
	want := map[string]string{"phone-a": string(b), "phone-c": string(d), "int-c": string(d), "phone-g": string(g)}
	for value, owner := range want {
		if owners[value] != owner {
			t.Errorf("%s belongs to %q, want %s", value, owners[value], owner)
		}
	}
	if _, ok := owners["phone-b"]; ok {
		t.Error("phone-b, released, is still claimed")
	}
}

// Appends from a running workload, while rebuilds run one after the other,
// are all reflected afterwards.
func TestRebuildTenantsUnderConcurrentWorkload(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	w := &workload{f: f, rng: rand.New(rand.NewPCG(29, uint64(time.Now().UnixNano())))}
	for len(w.all) < 30 {
		w.step()
	}
	stop := make(chan struct{})
	rebuilds := make(chan error, 1)
	var count int
	go func() {
		defer close(rebuilds)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := f.tenants.RebuildTenants(context.Background(), f.store, nil); err != nil {
				rebuilds <- err
				return
			}
			count++
		}
	}()
	for range 400 {
		w.step()
	}
	close(stop)
	if err := <-rebuilds; err != nil {
		t.Fatal(err)
	}
	if count < 3 {
		t.Fatalf("only %d rebuilds ran during the workload", count)
	}
	checkModelMatchesEvents(t, f, w.all)
}

// A reader never sees a partial model while the rebuild replaces every row,
// and is not blocked while the rebuild holds its lock.
func TestRebuildTenantsReadersSeeACompleteModel(t *testing.T) {
	t.Parallel()
	f := newRedisFixture(t)
	w := &workload{f: f, rng: rand.New(rand.NewPCG(31, uint64(time.Now().UnixNano())))}
	for f.head() < 300 {
		w.step()
	}
	ctx := context.Background()
	counts := func(ctx context.Context) ([3]int64, error) {
		var c [3]int64
		err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM phone_number_claims),
			(SELECT count(*) FROM integration_claims)`).Scan(&c[0], &c[1], &c[2])
		return c, err
	}
	want, err := counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want[1] == 0 || want[2] == 0 {
		t.Fatalf("counts %v: the workload claimed too little", want)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seen []string
	var reads int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := counts(ctx)
			mu.Lock()
			reads++
			if err != nil || got != want {
				seen = append(seen, fmt.Sprintf("%v (err %v)", got, err))
			}
			mu.Unlock()
		}
	}()
	src := &pausingSource{RebuildSource: f.store, whileLocked: func() {
		// The lock keeps appends out, not readers.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if got, err := counts(rctx); err != nil || got != want {
			t.Errorf("a read while the rebuild held its lock: %v, %v; want %v", got, err, want)
		}
	}}
	for range 5 {
		// Every row differs from the events, so the swap rewrites them all.
		mustExec(t, f, `UPDATE tenants SET name = name || ' (stale)'`)
		mustExec(t, f, `UPDATE phone_number_claims SET waba_id = waba_id || '-stale'`)
		mustExec(t, f, `UPDATE integration_claims SET tenant_id = (SELECT min(tenant_id::text)::uuid FROM tenants)`)
		if err := f.tenants.RebuildTenants(ctx, src, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if reads < 10 {
		t.Fatalf("the reader read only %d times", reads)
	}
	if len(seen) > 0 {
		t.Fatalf("%d of %d reads saw a partial model (want counts %v), e.g. %s", len(seen), reads, want, seen[0])
	}
	checkModelMatchesEvents(t, f, w.all)
}

// pausingSource is the event store with hooks: afterScan runs after each
// scan of the log before the rebuild locks the head (numbered from 1),
// whileLocked once it holds it.
type pausingSource struct {
	projections.RebuildSource
	afterScan   func(scan int)
	whileLocked func()
	scans       int
	locked      bool
}

func (s *pausingSource) ScanTenantEvents(ctx context.Context, tx pgx.Tx, after domain.Position, fn func(domain.StoredEvent) error) (domain.Position, error) {
	head, err := s.RebuildSource.ScanTenantEvents(ctx, tx, after, fn)
	if err == nil && !s.locked {
		s.scans++
		if s.afterScan != nil {
			s.afterScan(s.scans)
		}
	}
	return head, err
}

func (s *pausingSource) LockHead(ctx context.Context, tx pgx.Tx) (domain.Position, error) {
	head, err := s.RebuildSource.LockHead(ctx, tx)
	s.locked = true
	if err == nil && s.whileLocked != nil {
		s.whileLocked()
	}
	return head, err
}

// checkModelMatchesEvents checks the model against a replay of each
// tenant's events: one row per tenant with the replayed state, and exactly
// the claims the replayed states hold.
func checkModelMatchesEvents(t *testing.T, f *redisFixture, ids []domain.TenantID) {
	t.Helper()
	ctx := context.Background()
	var wantClaims []string
	for _, id := range ids {
		agg, err := f.repo.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		st := agg.State()
		row, err := f.tenants.Get(ctx, id)
		if err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
		a, _ := json.Marshal(st)
		b, _ := json.Marshal(row)
		if string(a) != string(b) {
			t.Fatalf("tenant %s row differs from its events:\n%s\n%s", id, b, a)
		}
		for _, p := range st.PhoneNumberIDs() {
			phone, _ := st.WhatsApp.Phone(p)
			wantClaims = append(wantClaims, fmt.Sprintf("%s|%s|%s", p, id, phone.WABAID))
		}
		if in := st.IntegrationID(); in != "" {
			wantClaims = append(wantClaims, fmt.Sprintf("%s|%s", in, id))
		}
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n); err != nil || n != len(ids) {
		t.Fatalf("%d tenant rows (%v), want %d", n, err, len(ids))
	}
	var gotClaims []string
	for _, row := range f.dumpPG() {
		if strings.Count(row, "|") <= 2 {
			gotClaims = append(gotClaims, row)
		}
	}
	if err := diffRows(gotClaims, wantClaims); err != nil {
		t.Fatalf("claims differ from the replayed states: %v", err)
	}
}

// diffRows compares two dumps as sets of rows and names the rows that differ.
func diffRows(got, want []string) error {
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	var missing, extra []string
	for _, r := range want {
		if _, ok := slices.BinarySearch(got, r); !ok {
			missing = append(missing, r)
		}
	}
	for _, r := range got {
		if _, ok := slices.BinarySearch(want, r); !ok {
			extra = append(extra, r)
		}
	}
	if len(missing)+len(extra) == 0 && len(got) == len(want) {
		return nil
	}
	show := func(rs []string) string { return strings.Join(rs[:min(len(rs), 3)], "\n  ") }
	return fmt.Errorf("%d rows, want %d\nmissing (%d):\n  %s\nunexpected (%d):\n  %s",
		len(got), len(want), len(missing), show(missing), len(extra), show(extra))
}

// Appends that read before they write lock the model's tables in the order
// the rebuild locks them (TestRebuildTenantsUnderConcurrentWorkload
// deadlocked without it).
var _ eventstore.LockedTables = (*projections.Tenants)(nil)
