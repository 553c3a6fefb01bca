package eventstore

import (
	"context"
	"sync"
	"time"
)

// Group commit. Appends that arrive while a group is committing wait and
// form the next group, which commits in one transaction: one head-row lock,
// one commit (one WAL flush) for all of them. No goroutine of its own runs
// it: the caller whose append finds no group under way leads, committing
// groups until its own append is answered, then hands the lead to the
// oldest waiter. Under no load a group is one append and costs what a lone
// transaction costs; under load the round trips and the flush are shared.

// request is one Append waiting for its group.
type request struct {
	ctx context.Context
	a   Append
	// done receives the answer, or lead (the waiter now commits groups).
	done     chan answer
	requeues int // times a group sent it back to wait for the next one
}

type answer struct {
	res  Result
	err  error
	lead bool
}

// groups queues appends and hands out the lead.
type groups struct {
	mu      sync.Mutex
	pending []*request
	busy    bool // a leader is committing
	max     int  // appends per group at most
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
	if g.busy {
		g.mu.Unlock()
		if ans := <-r.done; !ans.lead {
			return ans
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	// Leading: commit groups until r is answered, then pass the lead on.
	for {
		batch := g.take()
		if len(batch) > 0 {
			if g.hold != nil {
				g.hold(len(batch))
			}
			s.commitGroup(batch)
		}
		select {
		case ans := <-r.done:
			g.handOver()
			return ans
		default:
		}
	}
}

// take removes the next group from the queue: the oldest appends, at most
// one per stream and per idempotency scope (a second one waits for the
// next group, where it sees the first one's outcome), at most max. Appends
// whose caller gave up are answered here.
func (g *groups) take() []*request {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*request
	streams := map[string]bool{}
	scopes := map[string]bool{}
	rest := g.pending[:0]
	for _, r := range g.pending {
		if err := r.ctx.Err(); err != nil {
			r.done <- answer{err: err}
			continue
		}
		scope := ""
		if r.a.Idempotency != nil {
			scope = r.a.Idempotency.Scope
		}
		if len(batch) >= g.max || streams[r.a.StreamID] || (scope != "" && scopes[scope]) {
			rest = append(rest, r)
			continue
		}
		streams[r.a.StreamID] = true
		if scope != "" {
			scopes[scope] = true
		}
		batch = append(batch, r)
	}
	clear(g.pending[len(rest):])
	g.pending = rest
	if len(batch) > 0 {
		g.committed++
		g.appends += int64(len(batch))
	}
	return batch
}

// requeue puts appends back at the front of the queue, for the next group.
func (g *groups) requeue(rs []*request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(append([]*request(nil), rs...), g.pending...)
}

// handOver passes the lead to the oldest waiter, or ends it.
func (g *groups) handOver() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 {
		g.busy = false
		return
	}
	g.pending[0].done <- answer{lead: true}
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
