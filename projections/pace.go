package projections

import (
	"context"
	"time"
)

// pace spaces out a reader's reads of the feed under load: after a wake-up
// it waits until at least min has passed since its previous read, so that
// the commits landing meanwhile are read, handled and checkpointed as one
// batch instead of one read per commit. An idle reader (its last read older
// than min) reads at once, so it adds no latency when the service is quiet.
type pace struct {
	min  time.Duration
	last time.Time
}

// reading records a read starting now.
func (p *pace) reading() { p.last = time.Now() }

// idle waits for a wake-up (and then until min after the last read), the
// poll interval, or the end of ctx.
func (p *pace) idle(ctx context.Context, wake <-chan struct{}, poll time.Duration) {
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
		return
	case <-wake:
	}
	if d := p.min - time.Since(p.last); d > 0 {
		sleep(ctx, d)
	}
}
