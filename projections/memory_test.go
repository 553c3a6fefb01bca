package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
	"tenant-service/projections"
)

// An answer asked with minPosition P reflects every event up to P, whatever
// memory kept before: an update, a suspension, a number linked after a "not
// found" was kept, unlinked, moved to another tenant, several unlinked in
// one command, an integration replaced, a tenant deleted and its number
// linked elsewhere, a tenant created after its id was "not found".
func TestMemoryFollowsEveryChange(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{})
	// A second memory is asked at once after each write, so that its
	// answers, asked for positions it may not have applied yet, do not
	// refresh what f.mem kept.
	eager, err := projections.NewMemory(f.res, f.follower, projections.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	start(t, f.runner(fastRunner), f.projector(nil)) // Redis answers too, a little behind
	f.follow()
	a, sa := f.linkedTenant("Acme", "mem-p1", "mem-i1")
	b := f.create("Beta")
	nobody := domain.NewTenantID()
	all := func(ls ...lookup) []lookup { return ls }
	f.expect(eager, "linked", f.head(), all(
		lookup{"phone", "mem-p1", a, sa.Version}, lookup{"integration", "mem-i1", a, sa.Version},
		lookup{"tenant", string(a), a, sa.Version}, lookup{"phone", "mem-p9", "", 0}, lookup{"integration", "mem-i2", "", 0},
		lookup{"tenant", string(b), b, 1}, lookup{"tenant", string(nobody), "", 0})...)

	st, p := f.write(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme 2")}) })
	f.expect(eager, "updated", p, lookup{"phone", "mem-p1", a, st.Version}, lookup{"integration", "mem-i1", a, st.Version},
		lookup{"tenant", string(a), a, st.Version})
	if c, _ := decoded(f.mem.ByPhoneNumber(context.Background(), "mem-p1", p)); c.Name != "Acme 2" {
		t.Fatalf("after the update: name %q", c.Name)
	}

	st, p = f.write(a, func(t *domain.Tenant) error { return t.Suspend("unpaid") })
	f.expect(eager, "suspended", p, lookup{"phone", "mem-p1", a, st.Version}, lookup{"tenant", string(a), a, st.Version})

	st, p = f.write(a, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "waba-mem-p1", PhoneNumberID: "mem-p9"})
	})
	f.expect(eager, "linked after not found", p, lookup{"phone", "mem-p9", a, st.Version}, lookup{"phone", "mem-p1", a, st.Version})

	_, p = f.write(a, func(t *domain.Tenant) error { return t.UnlinkWABA("mem-p1") })
	f.expect(eager, "unlinked", p, lookup{"phone", "mem-p1", "", 0})

	sb, p := f.write(b, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "waba-b", PhoneNumberID: "mem-p1"})
	})
	f.expect(eager, "moved to another tenant", p, lookup{"phone", "mem-p1", b, sb.Version}, lookup{"tenant", string(b), b, sb.Version})

	st, p = f.write(a, func(t *domain.Tenant) error { return t.LinkGenesysIntegration("mem-i2", nil) })
	f.expect(eager, "integration replaced", p, lookup{"integration", "mem-i1", "", 0}, lookup{"integration", "mem-i2", a, st.Version})

	_, p = f.write(a, func(t *domain.Tenant) error {
		return errors.Join(t.LinkWABA(domain.WABALinked{WABAID: "waba-mem-p1", PhoneNumberID: "mem-p2"}),
			t.LinkWABA(domain.WABALinked{WABAID: "waba-mem-p1", PhoneNumberID: "mem-p3"}))
	})
	f.expect(eager, "two more linked", p, lookup{"phone", "mem-p2", a, 0}, lookup{"phone", "mem-p3", a, 0})
	st, p = f.write(a, func(t *domain.Tenant) error {
		return errors.Join(t.UnlinkWABA("mem-p2"), t.UnlinkWABA("mem-p3"), t.UnlinkWABA("mem-p9"))
	})
	f.expect(eager, "the WABA's numbers unlinked in one command", p, lookup{"phone", "mem-p2", "", 0},
		lookup{"phone", "mem-p3", "", 0}, lookup{"phone", "mem-p9", "", 0}, lookup{"tenant", string(a), a, st.Version})

	_, p = f.write(a, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "waba-mem-p1", PhoneNumberID: "mem-p9"})
	})
	f.expect(eager, "relinked", p, lookup{"phone", "mem-p9", a, 0})
	_, p = f.write(a, func(t *domain.Tenant) error { return t.Delete("closed") })
	f.expect(eager, "deleted", p, lookup{"tenant", string(a), "", 0}, lookup{"phone", "mem-p9", "", 0},
		lookup{"integration", "mem-i2", "", 0})

	sb, p = f.write(b, func(t *domain.Tenant) error {
		return t.LinkWABA(domain.WABALinked{WABAID: "waba-b", PhoneNumberID: "mem-p9"})
	})
	f.expect(eager, "a deleted tenant's number linked elsewhere", p, lookup{"phone", "mem-p9", b, sb.Version})

	st, p = f.write(nobody, func(t *domain.Tenant) error { return t.Create(nobody, domain.CreateTenant{Name: "Late"}) })
	f.expect(eager, "created after not found", p, lookup{"tenant", string(nobody), nobody, st.Version})

	if s := f.mem.Stats(); s.Hits == 0 || s.Invalidations == 0 {
		t.Fatalf("memory answered nothing itself: %+v", s)
	}
}

// Until the follower has found the head it starts from, memory neither
// answers nor keeps anything: an answer kept before then could miss an
// event the follower never hands over (it starts after it). Once it has,
// misses ask for at least that head, which a Redis model still behind it
// cannot answer.
func TestMemoryIsNotServedBeforeTheFollowerStarts(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{})
	stopRedis := start(t, f.runner(fastRunner), f.projector(nil))
	a, sa := f.linkedTenant("Acme", "early-p1", "early-i1")
	testkit.Until(t, 20*time.Second, "projected", func() bool { return f.pointsAt(f.keys.Phone("early-p1"), a, sa.Version) })
	stopRedis()
	early := lookup{"phone", "early-p1", a, sa.Version}
	if err := early.check(early.on(f.mem, 0)); err != nil {
		t.Fatal(err)
	}
	if s := f.mem.Stats(); s.Entries != 0 || s.Hits != 0 {
		t.Fatalf("memory kept or answered before the follower started: %+v", s)
	}
	st, _ := f.write(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme 2")}) })

	f.follow() // starts after the update: it never hands it over
	for _, l := range []lookup{{"phone", "early-p1", a, st.Version}, {"integration", "early-i1", a, st.Version}} {
		for range 3 {
			if err := l.check(l.on(f.mem, 0)); err != nil {
				t.Fatalf("after the follower started (Redis still at v%d): %v", sa.Version, err)
			}
		}
	}
	if s := f.mem.Stats(); s.Hits == 0 || s.Entries == 0 {
		t.Fatalf("memory does not answer once the follower started: %+v", s)
	}
}

// While the feed is quiet the follower still says it is caught up: its
// empty reads count, so memory keeps answering.
func TestFollowerCaughtUpWhileIdle(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{})
	if !f.follower.CaughtUpAt().IsZero() {
		t.Fatal("caught up before it ran")
	}
	f.follow()
	first := f.follower.CaughtUpAt()
	if first.IsZero() {
		t.Fatal("not caught up once it found the head")
	}
	testkit.Until(t, 10*time.Second, "a later empty read", func() bool { return f.follower.CaughtUpAt().After(first) })
}

// A lookup whose minPosition memory has not applied is answered by the
// Resolver, even while memory serves lookups without one; after that newer
// answer, no lookup of the tenant goes back to an older version, not even
// one Redis (behind, but at memory's position) would give.
func TestMemoryAsksTheResolverForPositionsItHasNotApplied(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{MaxLag: time.Hour})
	stopRedis := start(t, f.runner(fastRunner), f.projector(nil))
	stop := f.follow()
	a, sa := f.linkedTenant("Acme", "min-p1", "min-i1")
	f.applied(f.head())
	testkit.Until(t, 20*time.Second, "projected", func() bool { return f.pointsAt(f.keys.Integration("min-i1"), a, sa.Version) })
	old := lookup{"phone", "min-p1", a, sa.Version}
	if err := old.check(old.on(f.mem, 0)); err != nil {
		t.Fatal(err)
	}
	stop() // memory stays live, at the position it applied
	stopRedis()
	st, p := f.write(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme 2")}) })

	if c, err := old.on(f.mem, 0); err != nil || c.Version != sa.Version {
		t.Fatalf("without minPosition: v%d, %v; want memory's v%d (is memory answering?)", c.Version, err, sa.Version)
	}
	fresh := lookup{"phone", "min-p1", a, st.Version}
	if err := fresh.check(fresh.on(f.mem, p)); err != nil {
		t.Fatalf("with minPosition %d beyond memory: %v", p, err)
	}
	for _, l := range []lookup{fresh, {"integration", "min-i1", a, st.Version}, {"tenant", string(a), a, st.Version}} {
		if err := l.check(l.on(f.mem, 0)); err != nil {
			t.Fatalf("went back after a newer answer: %v", err)
		}
	}
}

// A miss asks for at least the position memory has applied, so a Redis
// model behind it does not put the past into memory.
func TestMemoryDoesNotKeepWhatALaggingRedisHolds(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{})
	stopRedis := start(t, f.runner(fastRunner), f.projector(nil))
	f.follow()
	a, sa := f.linkedTenant("Acme", "lr-p1", "lr-i1")
	testkit.Until(t, 20*time.Second, "projected", func() bool { return f.pointsAt(f.keys.Phone("lr-p1"), a, sa.Version) })
	stopRedis()
	st, p := f.write(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme 2")}) })
	f.applied(p)
	for range 2 {
		for _, l := range []lookup{{"phone", "lr-p1", a, st.Version}, {"integration", "lr-i1", a, st.Version}} {
			if err := l.check(l.on(f.mem, 0)); err != nil {
				t.Fatalf("Redis still at v%d: %v", sa.Version, err)
			}
		}
	}
}

// While the follower's reads fail (it retries with backoff), memory
// answers for MaxLag at most; then lookups go to the Resolver, so an update
// made elsewhere shows, and those with a minPosition reflect it at once.
// Once the reads succeed again, memory catches up and answers again.
func TestMemoryStopsAnsweringWhileTheFollowerCannotRead(t *testing.T) {
	t.Parallel()
	f := newMemoryFixture(t, projections.MemoryConfig{MaxLag: 300 * time.Millisecond})
	f.follow()
	a, sa := f.linkedTenant("Acme", "lag-p1", "lag-i1")
	f.applied(f.head())
	l := lookup{"phone", "lag-p1", a, sa.Version}
	for range 2 {
		if err := l.check(l.on(f.mem, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if s := f.mem.Stats(); s.Hits == 0 {
		t.Fatalf("memory does not answer while the follower keeps up: %+v", s)
	}
	f.feed.fail.Store(true)
	st, p := f.write(a, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: ptr("Acme 2")}) })
	fresh := lookup{"phone", "lag-p1", a, st.Version}
	testkit.Eventually(t, 10*time.Second, func() error { return fresh.check(fresh.on(f.mem, 0)) })
	for _, l := range []lookup{{"integration", "lag-i1", a, st.Version}, {"tenant", string(a), a, st.Version}} {
		if err := l.check(l.on(f.mem, p)); err != nil {
			t.Fatalf("with minPosition while the follower cannot read: %v", err)
		}
	}
	if f.follower.Position() >= p {
		t.Fatal("the follower read the update: the test shows nothing")
	}

	f.feed.fail.Store(false)
	f.applied(p)
	testkit.Until(t, 10*time.Second, "memory answering again", func() bool {
		before := f.mem.Stats().Hits
		err := fresh.check(fresh.on(f.mem, 0))
		return err == nil && f.mem.Stats().Hits > before
	})
}

// Memory holds at most MaxEntries lookups, "not found" answers included.
func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	const bound = 40
	f := newMemoryFixture(t, projections.MemoryConfig{MaxEntries: bound})
	f.follow()
	a, sa := f.linkedTenant("Acme", "bound-p1", "bound-i1")
	ctx := context.Background()
	for i := range 5 * bound {
		if _, err := f.mem.ByPhoneNumber(ctx, fmt.Sprintf("bound-unknown-%d", i), 0); !errors.Is(err, domain.ErrTenantNotFound) {
			t.Fatal(err)
		}
		if s := f.mem.Stats(); s.Entries > bound {
			t.Fatalf("after %d lookups: %d entries, bound %d", i+1, s.Entries, bound)
		}
	}
	l := lookup{"phone", "bound-p1", a, sa.Version}
	if err := l.check(l.on(f.mem, 0)); err != nil {
		t.Fatal(err)
	}
	if s := f.mem.Stats(); s.Entries > bound || s.Evictions < 4*bound {
		t.Fatalf("stats %+v: want at most %d entries and at least %d evictions", s, bound, 4*bound)
	}
}
