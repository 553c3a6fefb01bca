package tenantcache

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// world is a source of truth with history: every event moves it to the
// next global position, and it can answer "as of" any past position, like a
// read replica that lags behind but never further than the minPosition it
// was asked for.
type world struct {
	mu      sync.Mutex
	states  []worldState // states[p] = the state after the event at position p
	events  []Change     // events[p-1] = the event at position p
	tenants int
	phones  int
}

type worldState struct {
	versions []int64 // per tenant
	owner    []int   // per phone: tenant index, -1 for none
}

func newWorld(tenants, phones int) *world {
	s := worldState{versions: make([]int64, tenants), owner: make([]int, phones)}
	for i := range s.owner {
		s.owner[i] = -1
	}
	return &world{states: []worldState{s}, tenants: tenants, phones: phones}
}

func tenantName(i int) string { return fmt.Sprint("T", i) }
func phoneName(i int) string  { return fmt.Sprint("P", i) }

// step commits one random event and returns it.
func (w *world) step(r *rand.Rand) Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.states[len(w.states)-1]
	next := worldState{versions: append([]int64(nil), cur.versions...), owner: append([]int(nil), cur.owner...)}
	pos := int64(len(w.states))
	var ch Change
	p := r.IntN(w.phones)
	switch owner := next.owner[p]; {
	case r.IntN(3) == 0 && owner >= 0: // unlink
		next.versions[owner]++
		next.owner[p] = -1
		ch = Change{TenantID: tenantName(owner), Version: next.versions[owner], Keys: []Key{{KindPhoneNumber, phoneName(p)}}}
	case r.IntN(3) == 0 && owner < 0: // link to a random tenant
		t := r.IntN(w.tenants)
		next.versions[t]++
		next.owner[p] = t
		ch = Change{TenantID: tenantName(t), Version: next.versions[t], Keys: []Key{{KindPhoneNumber, phoneName(p)}}}
	default: // update
		t := r.IntN(w.tenants)
		next.versions[t]++
		ch = Change{TenantID: tenantName(t), Version: next.versions[t]}
	}
	ch.Position = pos
	w.states = append(w.states, next)
	w.events = append(w.events, ch)
	return ch
}

// answer returns the answer for k as of a random position between min and
// the head (the head when force).
func (w *world) answer(r *rand.Rand, k Key, min int64, force bool) Answer[val] {
	w.mu.Lock()
	defer w.mu.Unlock()
	head := int64(len(w.states) - 1)
	at := head
	if !force && min < head {
		at = min + r.Int64N(head-min+1)
	}
	return w.states[at].answer(k)
}

func (s worldState) answer(k Key) Answer[val] {
	t := -1
	switch k.Kind {
	case KindTenant:
		fmt.Sscanf(k.ID, "T%d", &t)
		if s.versions[t] == 0 { // not created yet
			t = -1
		}
	case KindPhoneNumber:
		var p int
		fmt.Sscanf(k.ID, "P%d", &p)
		t = s.owner[p]
	}
	if t < 0 {
		return Answer[val]{}
	}
	v := s.versions[t]
	return found(tenantName(t), v, fmt.Sprint(tenantName(t), "@", v))
}

// TestModelNeverBackwardsAndFreshAtRest runs readers, a writer and an
// event applier that delivers each tenant's events in order but tenants in
// any order, against answers from a lagging source. No completed lookup
// may be older than one completed before it started, and once every event
// is applied every fresh entry must hold the final state.
func TestModelNeverBackwardsAndFreshAtRest(t *testing.T) {
	const tenants, phones, events, readers = 8, 16, 3000, 4
	c := newCache(t, Config{MaxEntries: 20}) // small: eviction runs too
	w := newWorld(tenants, phones)

	var maxSeen [tenants]atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, readers)
	for i := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				var k Key
				if r.IntN(2) == 0 {
					k = Key{KindTenant, tenantName(r.IntN(tenants))}
				} else {
					k = Key{KindPhoneNumber, phoneName(r.IntN(phones))}
				}
				var before [tenants]int64
				for j := range before {
					before[j] = maxSeen[j].Load()
				}
				v, st := c.Get(k.Kind, k.ID)
				a := Answer[val]{Found: v != nil}
				if v != nil {
					a.Value = *v
				}
				for tries := 0; st != Fresh; tries++ {
					tk := c.Ticket()
					a = w.answer(r, k, tk.Position(), tries > 2)
					if c.Put(tk, k, a) == Stored {
						break
					}
				}
				if a.Found {
					var ti int
					fmt.Sscanf(a.Value.tenant, "T%d", &ti)
					if a.Value.version < before[ti] {
						errs <- fmt.Errorf("%v answered %s version %d after a lookup answered %d", k, a.Value.tenant, a.Value.version, before[ti])
						return
					}
					for {
						m := maxSeen[ti].Load()
						if a.Value.version <= m || maxSeen[ti].CompareAndSwap(m, a.Value.version) {
							break
						}
					}
				}
			}
		})
	}

	// The writer commits events; the applier delivers them per tenant in
	// order, tenants interleaved at random.
	pending := make([][]Change, tenants)
	r := rand.New(rand.NewPCG(99, 2))
	deliver := func() bool {
		var ready []int
		for i := range pending {
			if len(pending[i]) > 0 {
				ready = append(ready, i)
			}
		}
		if len(ready) == 0 {
			return false
		}
		i := ready[r.IntN(len(ready))]
		c.Apply(pending[i][0])
		pending[i] = pending[i][1:]
		return true
	}
	for range events {
		ch := w.step(r)
		var ti int
		fmt.Sscanf(ch.TenantID, "T%d", &ti)
		pending[ti] = append(pending[ti], ch)
		for r.IntN(2) == 0 && deliver() {
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for deliver() {
	}

	final := w.states[len(w.states)-1]
	for _, k := range allKeys(tenants, phones) {
		v, st := c.Peek(k.Kind, k.ID)
		if st != Fresh {
			continue
		}
		a := Answer[val]{Found: v != nil}
		if v != nil {
			a.Value = *v
		}
		if want := final.answer(k); a != want {
			t.Errorf("%v: cached %+v, the store says %+v", k, a, want)
		}
	}
	s := c.Stats()
	t.Logf("hits %d, misses %d, invalidations %d, evictions %d", s.Hits, s.Misses, s.Invalidations, s.Evictions)
}

func allKeys(tenants, phones int) []Key {
	var ks []Key
	for i := range tenants {
		ks = append(ks, Key{KindTenant, tenantName(i)})
	}
	for i := range phones {
		ks = append(ks, Key{KindPhoneNumber, phoneName(i)})
	}
	return ks
}
