package tenantcache

import (
	"fmt"
	"testing"
)

// val is a cached value of the tests: a text, of a tenant at a version.
type val struct {
	tenant  string
	version int64
	text    string
}

func (v val) TenantVersion() (string, int64) { return v.tenant, v.version }

func newCache(t testing.TB, cfg Config) *Cache[val] {
	t.Helper()
	c, err := New[val](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func found(tenant string, version int64, text string) Answer[val] {
	return Answer[val]{Value: val{tenant, version, text}, Found: true}
}

// put fetches "now": a ticket, then Put, which must store.
func put(t *testing.T, c *Cache[val], k Key, a Answer[val]) {
	t.Helper()
	if got := c.Put(c.Ticket(), k, a); got != Stored {
		t.Fatalf("Put(%v) = %v, want Stored", k, got)
	}
}

// expect checks what Get answers; wantText "" stands for a negative entry.
func expect(t *testing.T, c *Cache[val], k Key, want State, wantText string) {
	t.Helper()
	v, st := c.Get(k.Kind, k.ID)
	if st != want {
		t.Fatalf("Get(%v) state = %v, want %v", k, st, want)
	}
	got := ""
	if v != nil {
		got = v.text
	}
	if st != Miss && got != wantText {
		t.Fatalf("Get(%v) = %q, want %q", k, got, wantText)
	}
}

var (
	tenantA = Key{KindTenant, "A"}
	tenantB = Key{KindTenant, "B"}
	phone1  = Key{KindPhoneNumber, "111"}
	phone2  = Key{KindPhoneNumber, "222"}
	integ   = Key{KindIntegration, "i-1"}
)

func TestConfigValidateJoinsProblems(t *testing.T) {
	err := Config{MaxEntries: -1, ChangeLog: -2}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"MaxEntries", "ChangeLog"} {
		if !contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestPositiveAndNegativeEntriesAreHits(t *testing.T) {
	c := newCache(t, Config{})
	expect(t, c, phone1, Miss, "")
	put(t, c, phone1, found("A", 1, "A@1"))
	put(t, c, phone2, Answer[val]{})
	expect(t, c, phone1, Fresh, "A@1")
	if v, st := c.Get(phone2.Kind, phone2.ID); st != Fresh || v != nil {
		t.Fatalf("negative entry: %+v %v", v, st)
	}
	// Kinds are separate: the same id as a tenant id is a miss.
	expect(t, c, Key{KindTenant, "111"}, Miss, "")
	s := c.Stats()
	if s.Hits != 2 || s.Misses != 2 || s.Entries != 2 || s.Negative != 1 || s.Tenants != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestApplyDropsTheTenantsKeysAndTheNamedKeys(t *testing.T) {
	c := newCache(t, Config{})
	put(t, c, tenantA, found("A", 3, "A@3"))
	put(t, c, phone1, found("A", 3, "A@3"))
	put(t, c, integ, found("A", 3, "A@3"))
	put(t, c, tenantB, found("B", 1, "B@1"))
	put(t, c, phone2, Answer[val]{}) // unknown number
	c.Apply(Change{TenantID: "A", Version: 4, Position: 10})
	for _, k := range []Key{tenantA, phone1, integ} {
		expect(t, c, k, Miss, "")
	}
	expect(t, c, tenantB, Fresh, "B@1")
	expect(t, c, phone2, Fresh, "")
	// B links the unknown number: its negative entry goes.
	c.Apply(Change{TenantID: "B", Version: 2, Position: 11, Keys: []Key{phone2}})
	expect(t, c, phone2, Miss, "")
	expect(t, c, tenantB, Miss, "")
	if s := c.Stats(); s.Invalidations != 5 || s.Entries != 0 || s.Tenants != 0 || s.Position != 11 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestApplyKeepsEntriesThatAlreadyReflectTheChange(t *testing.T) {
	c := newCache(t, Config{})
	c.Advance(20)
	// Asked at position 20: reflects every change up to 20.
	put(t, c, phone1, Answer[val]{})
	put(t, c, tenantA, found("A", 5, "A@5"))
	c.Apply(Change{TenantID: "A", Version: 5, Position: 25}) // the answer is version 5 already
	c.Apply(Change{TenantID: "B", Version: 2, Position: 19, Keys: []Key{phone1}})
	expect(t, c, phone1, Fresh, "")
	expect(t, c, tenantA, Fresh, "A@5")
	// A duplicate of an old event changes nothing either.
	c.Apply(Change{TenantID: "A", Version: 4, Position: 24})
	expect(t, c, tenantA, Fresh, "A@5")
	c.Apply(Change{TenantID: "A", Version: 6, Position: 26})
	expect(t, c, tenantA, Miss, "")
}

func TestAChangeDuringAFetchOutdatesItsAnswer(t *testing.T) {
	c := newCache(t, Config{})
	c.Advance(10)
	tk := c.Ticket()
	if tk.Position() != 10 {
		t.Fatalf("ticket position = %d", tk.Position())
	}
	// While the fetch of A runs, A changes to version 4 at position 12.
	c.Apply(Change{TenantID: "A", Version: 4, Position: 12})
	if got := c.Put(tk, tenantA, found("A", 3, "A@3")); got != Outdated {
		t.Fatalf("old answer: %v, want Outdated", got)
	}
	// The source may already have answered version 4: that is stored.
	if got := c.Put(tk, tenantA, found("A", 4, "A@4")); got != Stored {
		t.Fatalf("answer with the change: %v, want Stored", got)
	}

	// A negative answer for a number linked meanwhile is outdated.
	tk = c.Ticket()
	c.Apply(Change{TenantID: "B", Version: 2, Position: 13, Keys: []Key{phone1}})
	if got := c.Put(tk, phone1, Answer[val]{}); got != Outdated {
		t.Fatalf("negative answer for a linked number: %v, want Outdated", got)
	}
	// A change at or below the ticket's position is reflected by the answer.
	tk = c.Ticket()
	c.Apply(Change{TenantID: "B", Version: 1, Position: 12, Keys: []Key{phone1}})
	if got := c.Put(tk, phone1, found("B", 2, "B@2")); got != Stored {
		t.Fatalf("got %v, want Stored", got)
	}
}

func TestAMovedNumberNeverAnswersItsOldTenant(t *testing.T) {
	c := newCache(t, Config{})
	put(t, c, phone1, found("A", 5, "A@5"))
	tk := c.Ticket() // a refresh of phone1 starts
	// B links the number (its unlink from A may arrive later).
	c.Apply(Change{TenantID: "B", Version: 3, Position: 40, Keys: []Key{phone1}})
	expect(t, c, phone1, Miss, "")
	if got := c.Put(tk, phone1, found("A", 5, "A@5")); got != Outdated {
		t.Fatalf("old owner: %v, want Outdated", got)
	}
	put(t, c, phone1, found("B", 3, "B@3"))
	c.Apply(Change{TenantID: "A", Version: 6, Position: 39, Keys: []Key{phone1}}) // the late unlink
	expect(t, c, phone1, Fresh, "B@3")
}

func TestNeverBackwardsAcrossKeysOfATenant(t *testing.T) {
	c := newCache(t, Config{})
	tk := c.Ticket() // fetch of phone1 starts, answered by a lagging replica
	put(t, c, tenantA, found("A", 6, "A@6"))
	if got := c.Put(tk, phone1, found("A", 5, "A@5")); got != Outdated {
		t.Fatalf("older version than answered: %v, want Outdated", got)
	}
	put(t, c, phone1, found("A", 6, "A@6"))
	// A newer answer for one key drops the older ones of the tenant.
	put(t, c, integ, found("A", 7, "A@7"))
	expect(t, c, tenantA, Miss, "")
	expect(t, c, phone1, Miss, "")
	expect(t, c, integ, Fresh, "A@7")
	// The floor stays while the tenant has entries.
	if got := c.Put(c.Ticket(), tenantA, found("A", 6, "A@6")); got != Outdated {
		t.Fatalf("below the floor: %v, want Outdated", got)
	}
}

func TestAFetchThatOutlivesTheChangeLogIsRefused(t *testing.T) {
	c := newCache(t, Config{ChangeLog: 4})
	tk := c.Ticket()
	for i := range 5 {
		c.Apply(Change{TenantID: fmt.Sprint("other", i), Version: 1, Position: int64(i + 1)})
	}
	if got := c.Put(tk, tenantA, found("A", 1, "A@1")); got != Outdated {
		t.Fatalf("got %v, want Outdated", got)
	}
	put(t, c, tenantA, found("A", 1, "A@1"))
}

func TestMarkStaleUntilMarkFresh(t *testing.T) {
	c := newCache(t, Config{})
	put(t, c, tenantA, found("A", 1, "A@1"))
	before := c.Ticket()
	token := c.MarkStale()
	expect(t, c, tenantA, Stale, "A@1")
	// An answer asked before MarkStale is stored stale too.
	if got := c.Put(before, phone1, found("A", 1, "A@1")); got != Stored {
		t.Fatal(got)
	}
	expect(t, c, phone1, Stale, "A@1")
	// One asked after is fresh.
	put(t, c, tenantB, found("B", 1, "B@1"))
	expect(t, c, tenantB, Fresh, "B@1")
	// A second loss before the first resync finished: only its token counts.
	token2 := c.MarkStale()
	if c.MarkFresh(token) {
		t.Fatal("MarkFresh with an old token")
	}
	expect(t, c, tenantB, Stale, "B@1")
	if !c.MarkFresh(token2) {
		t.Fatal("MarkFresh with the current token")
	}
	expect(t, c, tenantA, Fresh, "A@1")
	expect(t, c, tenantB, Fresh, "B@1")
	if s := c.Stats(); s.StaleHits != 3 {
		t.Fatalf("stale hits = %d", s.StaleHits)
	}
}

func TestEvictionKeepsTheBoundAndSparesHotEntries(t *testing.T) {
	const max = 1000
	c := newCache(t, Config{MaxEntries: max})
	hot := []Key{}
	for i := range 50 {
		k := Key{KindTenant, fmt.Sprint("hot", i)}
		put(t, c, k, found(k.ID, 1, k.ID))
		hot = append(hot, k)
	}
	for i := range 20 * max {
		for _, k := range hot {
			c.Get(k.Kind, k.ID)
		}
		k := Key{KindPhoneNumber, fmt.Sprint(i)}
		if i%2 == 0 {
			put(t, c, k, Answer[val]{})
		} else {
			put(t, c, k, found(fmt.Sprint("cold", i), 1, "x"))
		}
		if n := c.Len(); n > max {
			t.Fatalf("%d entries, bound %d", n, max)
		}
	}
	for _, k := range hot {
		expect(t, c, k, Fresh, k.ID)
	}
	s := c.Stats()
	if s.Evictions != uint64(50+20*max-max) || s.Entries != max {
		t.Fatalf("stats = %+v", s)
	}
	// Records without entries (evicted tenants whose floor no change
	// confirmed) are bounded too.
	if s.Tenants > max+64 || s.Negative > max {
		t.Fatalf("index larger than the bound: %+v", s)
	}
}

func TestAnEvictedTenantKeepsItsFloorUntilAChangeConfirmsIt(t *testing.T) {
	c := newCache(t, Config{MaxEntries: 1})
	lagging := c.Ticket()
	// The source answered version 7 before the event feed told of it.
	put(t, c, tenantA, found("A", 7, "A@7"))
	put(t, c, phone1, Answer[val]{}) // evicts A's only entry
	expect(t, c, tenantA, Miss, "")
	if got := c.Put(lagging, tenantA, found("A", 6, "A@6")); got != Outdated {
		t.Fatalf("older than answered before the eviction: %v, want Outdated", got)
	}
	if got := c.Put(c.Ticket(), integ, found("A", 6, "A@6")); got != Outdated {
		t.Fatalf("older than answered before the eviction: %v, want Outdated", got)
	}
	// The event of version 7 arrives: now any fetch asks for its position.
	c.Apply(Change{TenantID: "A", Version: 7, Position: 30})
	if s := c.Stats(); s.Tenants != 0 {
		t.Fatalf("confirmed orphan kept: %+v", s)
	}
	put(t, c, tenantA, found("A", 7, "A@7"))
}

func TestExpiredEntriesStayStaleUntilReread(t *testing.T) {
	c := newCache(t, Config{})
	put(t, c, tenantA, found("A", 1, "A@1"))
	token := c.MarkStale()
	c.Expire() // the owner cannot tell what it missed
	put(t, c, tenantB, found("B", 1, "B@1"))
	if c.MarkFresh(token) {
		t.Fatal("MarkFresh of a token Expire superseded")
	}
	token = c.MarkStale() // a later loss, resynced
	if !c.MarkFresh(token) {
		t.Fatal("MarkFresh")
	}
	expect(t, c, tenantA, Stale, "A@1")
	expect(t, c, tenantB, Fresh, "B@1")
	put(t, c, tenantA, found("A", 2, "A@2"))
	expect(t, c, tenantA, Fresh, "A@2")
}
