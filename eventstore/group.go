package eventstore

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Group commit. Appends that arrive while a group is committing wait and
// form the next group, which commits in one transaction: one head-row lock,
// one commit (one WAL flush) for all of them. A committer, a goroutine that
// runs while appends wait and ends when none does, takes the waiting
// appends as a group, commits it and takes the next one at once: callers
// only queue and wait, so no group waits for a caller's goroutine to be
// scheduled (handing the work from caller to caller cost a quarter of each
// group's cycle under load). With maxCommitters above 1, groups are under
// way at once, each on a connection and a PostgreSQL backend of its own,
// so one writes while another holds the head lock and commits. Under no
// load a group is one append and costs what a lone transaction costs;
// under load round trips and flushes are shared.

// request is one Append waiting for its group.
type request struct {
	ctx context.Context
	a   Append
	// prepared is the member of an append that creates its stream, built
	// by its caller (Append) before it queued: it needs nothing read first,
	// so the committer does not build it while PostgreSQL waits. Nil for
	// the others, which step 1 builds once their streams are locked.
	prepared *member
	// done receives the answer.
	done     chan answer
	requeues int // times a group sent it back to wait for the next one
}

type answer struct {
	res Result
	err error
	// commit is the span of the group that committed the append, when
	// another append's span is its parent (see startCommit).
	commit trace.SpanContext
}

func newRequest(ctx context.Context, a Append) *request {
	return &request{ctx: ctx, a: a, done: make(chan answer, 1)}
}

// groups queues appends and runs the committers.
type groups struct {
	mu            sync.Mutex
	pending       []*request
	committers    int // running
	maxCommitters int // groups under way at most
	max           int // appends per group at most
	// hold, when set (tests), runs in the committer with a group of n
	// taken, before it commits; appends arriving meanwhile queue for the
	// next one.
	hold func(n int)
	// stats, read by tests and benchmarks.
	committed, appends int64
}

// submit runs r through a group and returns its answer.
func (s *Store) submit(r *request) answer {
	g := &s.groups
	g.mu.Lock()
	g.pending = append(g.pending, r)
	start := g.committers < g.maxCommitters
	if start {
		g.committers++
	}
	g.mu.Unlock()
	if start {
		go s.commitLoop()
	}
	return <-r.done
}

// commitLoop is a committer: it commits groups while appends wait.
func (s *Store) commitLoop() {
	g := &s.groups
	for {
		batch := g.take()
		if batch == nil {
			return
		}
		if g.hold != nil {
			g.hold(len(batch))
		}
		s.commitGroup(batch)
	}
}

// take removes the next group from the queue: the oldest appends, at most
// one per stream and per idempotency scope (a second one waits for the
// next group, where it sees the first one's outcome), at most max. Appends
// whose caller gave up are answered here. With nothing to take, the
// committer ends (nil); an append queued after that starts another.
func (g *groups) take() []*request {
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
		batch = append(batch, p)
	}
	clear(g.pending[len(rest):])
	g.pending = rest
	if len(batch) == 0 { // the queue is empty: the first append left is always taken
		g.committers--
		return nil
	}
	g.committed++
	g.appends += int64(len(batch))
	return batch
}

// requeue puts appends back at the front of the queue, for the next group
// (its committer, running, takes them).
func (g *groups) requeue(rs []*request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(append([]*request(nil), rs...), g.pending...)
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
