package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// linked is a WABALinked event for a phone number.
func linked(phone string) domain.Event {
	return domain.WABALinked{WABAID: "waba-" + phone, PhoneNumberID: phone, Source: "manual"}
}

// One group commit holds appends that each fare differently: new streams,
// a stale expected version, an idempotency key answered before, a phone
// number another tenant holds, two new tenants racing for one number and
// two appends with one idempotency key. Each gets its own answer, the
// successful ones commit together, the refused ones leave nothing behind,
// and the log stays gap-free and verifiable.
func TestGroupCommitMixesOutcomes(t *testing.T) {
	t.Parallel()
	// One group at a time, so that every case waits behind the first one.
	s, pool := newStoreWith(t, eventstore.Config{GroupsInFlight: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tenants := projections.NewTenants(pool)

	// Before the group: a tenant holding a number, and a keyed append.
	holder := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: holder.StreamID(), TenantID: holder,
		Events: []domain.Event{created(holder, "holder"), linked("1111")}}); err != nil {
		t.Fatal(err)
	}
	answered := &eventstore.Idempotency{Scope: "group-answered", RequestHash: []byte("h")}
	first := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: first.StreamID(), TenantID: first,
		Events: []domain.Event{created(first, "keyed")}, Idempotency: answered}); err != nil {
		t.Fatal(err)
	}

	type want int
	const (
		ok want = iota
		conflict
		duplicate
		claimed
		okOrClaimed // one of the two racing for one number wins
		okOrDuplicate
	)
	fresh := func(name string, more ...domain.Event) (eventstore.Append, domain.TenantID) {
		id := domain.NewTenantID()
		return eventstore.Append{StreamID: id.StreamID(), TenantID: id,
			Events: append([]domain.Event{created(id, name)}, more...)}, id
	}
	var cases []struct {
		a    eventstore.Append
		want want
	}
	add := func(a eventstore.Append, w want) {
		cases = append(cases, struct {
			a    eventstore.Append
			want want
		}{a, w})
	}
	a, _ := fresh("new 1")
	add(a, ok)
	add(eventstore.Append{StreamID: holder.StreamID(), TenantID: holder, ExpectedVersion: 7,
		Events: []domain.Event{domain.TenantSuspended{Reason: "stale"}}}, conflict)
	a, _ = fresh("answered before")
	a.Idempotency = answered
	add(a, duplicate)
	a, _ = fresh("wants 1111", linked("1111"))
	add(a, claimed)
	a, _ = fresh("race A", linked("2222"))
	add(a, okOrClaimed)
	a, _ = fresh("race B", linked("2222"))
	add(a, okOrClaimed)
	key := &eventstore.Idempotency{Scope: "group-same-key", RequestHash: []byte("k")}
	a, _ = fresh("same key A")
	a.Idempotency = key
	add(a, okOrDuplicate)
	a, _ = fresh("same key B")
	a.Idempotency = key
	add(a, okOrDuplicate)
	a, _ = fresh("new 2", linked("3333"))
	add(a, ok)

	// The first append leads and is held until every case waits behind it,
	// so they reach the next group together (the two with one key excepted:
	// the second waits for the group after, where it sees the first).
	var sizes []int
	var mu sync.Mutex
	eventstore.HoldGroups(s, func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		lead := len(sizes) == 1
		mu.Unlock()
		if lead {
			testkit.Until(t, 10*time.Second, "every case to queue", func() bool {
				return eventstore.WaitingAppends(s) == len(cases)
			})
		}
	})
	leader, _ := fresh("leader")
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := s.Append(ctx, leader); err != nil {
			t.Error(err)
		}
	})
	testkit.Until(t, 10*time.Second, "the leader's group", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sizes) == 1
	})
	results := make([]error, len(cases))
	dup := make([]bool, len(cases))
	for i, c := range cases {
		wg.Go(func() {
			res, err := s.Append(ctx, c.a)
			results[i], dup[i] = err, res.Duplicate
		})
	}
	wg.Wait()

	mu.Lock()
	if len(sizes) < 2 || sizes[1] != len(cases)-1 {
		t.Errorf("groups of %v, want the leader alone, then %d together", sizes, len(cases)-1)
	}
	mu.Unlock()
	raceWon, raceLost, keyWon, keyDup := 0, 0, 0, 0
	for i, c := range cases {
		err := results[i]
		var ce *eventstore.ConflictError
		var claim *projections.ClaimError
		got := ok
		switch {
		case errors.As(err, &ce):
			got = conflict
		case errors.As(err, &claim):
			got = claimed
		case err != nil:
			t.Errorf("case %d (%s): %v", i, c.a.StreamID, err)
			continue
		case dup[i]:
			got = duplicate
		}
		switch c.want {
		case okOrClaimed:
			switch got {
			case ok:
				raceWon++
			case claimed:
				raceLost++
			default:
				t.Errorf("case %d: %v, want a success or a claim refusal", i, err)
			}
		case okOrDuplicate:
			switch got {
			case ok:
				keyWon++
			case duplicate:
				keyDup++
			default:
				t.Errorf("case %d: outcome %d (%v), want a success or a duplicate", i, got, err)
			}
		default:
			if got != c.want {
				t.Errorf("case %d: outcome %d (%v), want %d", i, got, err, c.want)
			}
		}
	}
	if raceWon != 1 || raceLost != 1 {
		t.Errorf("the race for one number: %d won, %d refused; want 1 and 1", raceWon, raceLost)
	}
	if keyWon != 1 || keyDup != 1 {
		t.Errorf("one key twice: %d succeeded, %d duplicates; want 1 and 1", keyWon, keyDup)
	}

	// What committed: the two before, the leader, and the successes, each
	// with its read-model row; nothing of the refused ones.
	events, err := s.ReadAll(ctx, 0, 1000, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	streams := map[string]bool{}
	for i, e := range events {
		if e.Position != domain.Position(i+1) {
			t.Fatalf("event %d at position %d: the feed has a gap", i, e.Position)
		}
		streams[e.StreamID] = true
	}
	// holder, first, leader, new 1, new 2, the race's winner, the key's winner.
	if len(streams) != 7 {
		t.Errorf("%d streams hold events, want 7", len(streams))
	}
	for i, c := range cases {
		_, err := tenants.Get(ctx, c.a.TenantID)
		if stored := streams[c.a.StreamID]; stored != (err == nil) {
			t.Errorf("case %d: events stored %v, read-model row error %v", i, stored, err)
		}
		if !streams[c.a.StreamID] && c.want != conflict {
			if got, err := s.ReadStream(ctx, c.a.StreamID, 0, 0); err != nil || len(got) != 0 {
				t.Errorf("case %d: refused, yet its stream holds %d events (%v)", i, len(got), err)
			}
		}
	}
	for phone, owner := range map[string]domain.TenantID{"1111": holder} {
		if got, err := tenants.OwnerOfPhone(ctx, phone); err != nil || got != owner {
			t.Errorf("phone %s owned by %s (%v), want %s", phone, got, err, owner)
		}
	}
	if got, err := tenants.OwnerOfPhone(ctx, "2222"); err != nil || !streams[got.StreamID()] {
		t.Errorf("phone 2222 owned by %s (%v), want the race's winner", got, err)
	}
	if res := verify(t, s); res.Break != nil || res.Checked != int64(len(events)) {
		t.Errorf("verify after the group: %+v", res)
	}
}

// Appends that refuse one another in turn still all get an answer: the
// group starts again without each refused one, never failing the others.
func TestGroupCommitSurvivesManyRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refusals := 0, 0
	for range n {
		wg.Go(func() {
			id := domain.NewTenantID()
			_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
				Events: []domain.Event{created(id, "racer"), linked("4444")}})
			var claim *projections.ClaimError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &claim):
				refusals++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || refusals != n-1 {
		t.Errorf("%d wins, %d claim refusals; want 1 and %d", wins, refusals, n-1)
	}
}

// A committer runs while appends wait and ends when none does: after a
// burst no committer is left running (none leaks), appends that came in
// together shared groups, and the next append starts a committer again.
func TestCommitterEndsWhenTheQueueIsEmpty(t *testing.T) {
	t.Parallel()
	s, _ := newStoreWith(t, eventstore.Config{GroupsInFlight: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	appendNew := func() error {
		id := domain.NewTenantID()
		_, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
			Events: []domain.Event{created(id, "burst")}})
		return err
	}
	// The first group is held until the rest of the burst waits behind it.
	const n = 40
	first := true
	eventstore.HoldGroups(s, func(taken int) {
		if !first { // one committer: no other call runs at the same time
			return
		}
		first = false
		deadline := time.Now().Add(10 * time.Second)
		for eventstore.WaitingAppends(s) < n-taken && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := appendNew(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	testkit.Until(t, 5*time.Second, "the committer to end", func() bool { return eventstore.Committers(s) == 0 })
	if groups, appends := s.GroupStats(); appends != n || groups >= n {
		t.Errorf("%d appends in %d groups: want %d appends sharing groups", appends, groups, n)
	}
	if err := appendNew(); err != nil {
		t.Fatalf("an append after the committer ended: %v", err)
	}
	testkit.Until(t, 5*time.Second, "the new committer to end", func() bool { return eventstore.Committers(s) == 0 })
}

// GroupCommitted reports each committed group once, with the appends it
// committed and how long its transaction took, and leaves out an append
// the group refused.
func TestGroupCommittedReportsEachGroup(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var groups, appends int
	var took []time.Duration
	s, _ := newStoreWith(t, eventstore.Config{GroupsInFlight: 1,
		GroupCommitted: func(n int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			groups++
			appends += n
			took = append(took, d)
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	began := time.Now()

	existing := domain.NewTenantID()
	if _, err := s.Append(ctx, eventstore.Append{StreamID: existing.StreamID(), TenantID: existing,
		Events: []domain.Event{created(existing, "existing")}}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := domain.NewTenantID()
			if _, err := s.Append(ctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id,
				Events: []domain.Event{created(id, "burst")}}); err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		})
	}
	wg.Go(func() { // stale: refused, not committed
		_, err := s.Append(ctx, eventstore.Append{StreamID: existing.StreamID(), TenantID: existing,
			ExpectedVersion: 5, Events: []domain.Event{linked("2222")}})
		var ce *eventstore.ConflictError
		if !errors.As(err, &ce) {
			t.Errorf("stale append: %v, want a conflict", err)
		}
	})
	wg.Wait()
	elapsed := time.Since(began)

	mu.Lock()
	defer mu.Unlock()
	if appends != n+1 {
		t.Errorf("groups reported %d appends committed, want %d", appends, n+1)
	}
	if groups < 1 || groups > appends {
		t.Errorf("%d groups reported for %d appends", groups, appends)
	}
	for _, d := range took {
		if d <= 0 || d > elapsed {
			t.Errorf("a group took %v, want more than 0 and at most the %v all appends took", d, elapsed)
		}
	}
}
