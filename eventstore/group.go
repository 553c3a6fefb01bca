package eventstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Group commit. Appends that arrive while groups are committing wait and
// form the next group, which commits in one transaction: one head-row lock,
// one commit (one WAL flush) for all of them. No goroutine of its own runs
// it: a caller whose append finds fewer than maxLeaders groups under way
// leads, committing groups until its own append is answered, then hands the
// lead to the oldest waiter. With maxLeaders above 1, groups are under way
// at once, each on a connection and a PostgreSQL backend of its own, so one
// writes while another holds the head lock and commits. Under no load a
// group is one append and costs what a lone transaction costs; under load
// round trips and flushes are shared.

// request is one Append waiting for its group.
type request struct {
	ctx context.Context
	a   Append
	// done receives the answer, and before it at most one lead (the
	// caller, waiting, is now to commit groups): it holds both.
	done     chan answer
	requeues int // times a group sent it back to wait for the next one
	// waiting: pending, with its caller blocked on done, not leading;
	// leading: its caller commits groups. Guarded by groups.mu.
	waiting, leading bool
}

type answer struct {
	res  Result
	err  error
	lead bool
	// commit is the span of the group that committed the append, when
	// another append's span is its parent (see startCommit).
	commit trace.SpanContext
}

func newRequest(ctx context.Context, a Append) *request {
	return &request{ctx: ctx, a: a, done: make(chan answer, 2)}
}

// groups queues appends and hands out the lead.
type groups struct {
	mu         sync.Mutex
	pending    []*request
	leaders    int // callers committing groups
	maxLeaders int // groups under way at most
	max        int // appends per group at most
	// hold, when set (tests), runs in the leader with a group of n taken,
	// before it commits; appends arriving meanwhile queue for the next one.
	hold func(n int)
	// stats, read by tests and benchmarks.
	committed, appends int64
}

// submit runs r through a group and returns its answer.
func (s *Store) submit(r *request) answer {
	g := &s.groups
	g.mu.Lock()
	g.pending = append(g.pending, r)
	lead := g.leaders < g.maxLeaders
	if lead {
		g.leaders++
	}
	r.leading, r.waiting = lead, !lead
	g.mu.Unlock()
	for {
		if !lead {
			ans := <-r.done
			if !ans.lead {
				return ans
			}
		}
		// Leading: commit groups until r is answered, then pass the lead on.
		// With nothing left to take (another leader took r), wait again.
		for {
			batch := g.take(r)
			if batch == nil {
				lead = false
				break
			}
			if g.hold != nil {
				g.hold(len(batch))
			}
			s.commitGroup(batch)
			select {
			case ans := <-r.done: // not a lead: r is not waiting
				g.handOver()
				return ans
			default:
			}
		}
	}
}

// take removes the next group from the queue: the oldest appends, at most
// one per stream and per idempotency scope (a second one waits for the
// next group, where it sees the first one's outcome), at most max. Appends
// whose caller gave up are answered here. With nothing to take, the
// caller, whose request is r, stops leading and waits (nil).
func (g *groups) take(r *request) []*request {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*request
	streams := map[string]bool{}
	scopes := map[string]bool{}
	rest := g.pending[:0]
	for _, p := range g.pending {
		if err := p.ctx.Err(); err != nil {
			p.done <- answer{err: err}
			continue
		}
		scope := ""
		if p.a.Idempotency != nil {
			scope = p.a.Idempotency.Scope
		}
		if len(batch) >= g.max || streams[p.a.StreamID] || (scope != "" && scopes[scope]) {
			rest = append(rest, p)
			continue
		}
		streams[p.a.StreamID] = true
		if scope != "" {
			scopes[scope] = true
		}
		p.waiting = false
		batch = append(batch, p)
	}
	clear(g.pending[len(rest):])
	g.pending = rest
	if len(batch) == 0 {
		g.leaders--
		r.leading = false
		r.waiting = slices.Contains(g.pending, r)
		return nil
	}
	g.committed++
	g.appends += int64(len(batch))
	return batch
}

// requeue puts appends back at the front of the queue, for the next group.
// Their callers wait for them (or lead, and take them again).
func (g *groups) requeue(rs []*request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range rs {
		r.waiting = !r.leading
	}
	g.pending = append(append([]*request(nil), rs...), g.pending...)
}

// handOver passes the lead to the caller of the oldest waiting append, or
// ends it. Appends pending whose callers lead already are theirs to take.
func (g *groups) handOver() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.pending {
		if p.waiting {
			p.waiting, p.leading = false, true
			p.done <- answer{lead: true}
			return
		}
	}
	g.leaders--
}

// groupContext bounds a group's transaction: it outlives no caller's
// deadline by more than the latest of them, and no caller's cancellation
// aborts the others' appends.
func groupContext(batch []*request) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	base := context.WithoutCancel(batch[0].ctx)
	if latest.IsZero() {
		return context.WithTimeout(base, defaultGroupTimeout)
	}
	return context.WithDeadline(base, latest)
}

// defaultGroupTimeout bounds a group whose callers set no deadline.
const defaultGroupTimeout = 30 * time.Second

// waiting is how many appends wait for a group.
func (g *groups) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// GroupStats says how many groups committed and how many appends they held
// (those that reached a group), since the store was created.
func (s *Store) GroupStats() (groups, appends int64) {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	return s.groups.committed, s.groups.appends
}
