package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
)

// outgoing is one event ready to publish.
type outgoing struct {
	event *domain.StoredEvent
	key   string
	pub   amqp.Publishing
}

// stuckGrace is how long publishAll waits for its publishers after giving
// up, before it breaks the connection under any that are blocked writing.
const stuckGrace = time.Second

// publishAll publishes the batch over up to InFlight lanes. The batch is
// grouped by tenant; each lane takes the next tenant's group, publishes its
// events in batch order and waits for each confirm before the next, so a
// tenant's events reach the exchange in commit order even when the broker
// refuses one. Lanes take groups as they free up, so a few large tenants do
// not leave the others' lanes idle, and together they keep up to InFlight
// confirms outstanding. It returns the first failure, after every lane
// stopped, or a timeout when PublishTimeout passes with no confirm at all.
func (r *Relay) publishAll(ctx context.Context, s *session, msgs []outgoing) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var progress atomic.Int64 // unix nanos of the latest confirm
	progress.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	var failed atomic.Bool
	groups := byTenant(msgs)
	next := make(chan []int, len(groups))
	for _, g := range groups {
		next <- g
	}
	close(next)
	for i := range min(r.cfg.InFlight, len(groups)) {
		ch := s.chans[i%len(s.chans)]
		wg.Go(func() {
			for group := range next {
				if ctx.Err() != nil {
					return
				}
				if err := r.publishLane(ctx, s, ch, msgs, group, &progress); err != nil {
					failed.Store(true)
					cancel(err)
					return
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	tick := time.NewTicker(max(r.cfg.PublishTimeout/10, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if !failed.Load() {
				return nil // every event confirmed, even if ctx ended just now
			}
			return context.Cause(ctx)
		case <-tick.C:
			if idle := time.Since(time.Unix(0, progress.Load())); idle > r.cfg.PublishTimeout {
				cancel(fmt.Errorf("no publisher confirm for %s", idle.Round(time.Millisecond)))
			}
		case <-ctx.Done():
			// Lanes waiting for a confirm return at once; one blocked writing
			// to a broker that stopped reading returns only when the
			// connection closes, so close it if the lanes do not come back.
			if !wait(finished, stuckGrace) {
				s.fail(fmt.Errorf("%w: publishers stuck: %w", ErrNotConnected, context.Cause(ctx)))
				wait(finished, stuckGrace)
			}
			if isClosed(finished) && !failed.Load() {
				return nil
			}
			return context.Cause(ctx)
		}
	}
}

// publishLane publishes the lane's events one after the other, each after
// the previous one's confirm.
func (r *Relay) publishLane(ctx context.Context, s *session, ch *amqp.Channel, msgs []outgoing, lane []int, progress *atomic.Int64) error {
	for _, i := range lane {
		if err := r.publishOne(ctx, s, ch, msgs[i]); err != nil {
			return err
		}
		progress.Store(time.Now().UnixNano())
		r.confirmed.Add(1)
	}
	return nil
}

// publishOne publishes one event and waits for its confirm, in a span of
// its own when the relay traces.
func (r *Relay) publishOne(ctx context.Context, s *session, ch *amqp.Channel, m outgoing) (err error) {
	if r.tracer != nil {
		var span trace.Span
		ctx, span = r.startPublish(ctx, &m)
		defer func() { endPublish(span, err) }()
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, r.cfg.Exchange, m.key, false, false, m.pub)
	if err != nil {
		return laneErr(ctx, s, ch, m, fmt.Errorf("publish: %w", err))
	}
	if dc == nil {
		return laneErr(ctx, s, ch, m, errors.New("channel is not in confirm mode"))
	}
	r.stats.published.Add(1)
	r.stats.inFlight.Add(1)
	acked, err := dc.WaitContext(ctx)
	r.stats.inFlight.Add(-1)
	if err != nil {
		return context.Cause(ctx)
	}
	if !acked {
		r.stats.nacked.Add(1)
		return laneErr(ctx, s, ch, m, errors.New("broker refused it (negative confirm)"))
	}
	return nil
}

// laneErr names the event and prefers the broken session's reason (a lost
// connection nacks every outstanding publish) over the symptom.
func laneErr(ctx context.Context, s *session, ch *amqp.Channel, m outgoing, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if broken := s.broken(); broken != nil {
		err = broken
	} else if s.conn.IsClosed() || ch.IsClosed() {
		err = fmt.Errorf("%w: connection lost", ErrNotConnected)
	}
	return fmt.Errorf("event %s at position %d (%s): %w", m.event.EventID, m.event.Position, m.event.Type, err)
}

// byTenant groups the batch indices by tenant, keeping batch order within
// each group, with groups in order of their first event.
func byTenant(msgs []outgoing) [][]int {
	at := map[domain.TenantID]int{}
	var groups [][]int
	for i, m := range msgs {
		g, ok := at[m.event.TenantID]
		if !ok {
			g = len(groups)
			at[m.event.TenantID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// wait reports whether done closed within d.
func wait(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
