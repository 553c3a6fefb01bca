package messaging

import (
	"context"
	"errors"
	"fmt"
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

// publishAll publishes the batch in waves (see publishWaves) and returns
// nil once the broker confirmed every event. It returns the first failure,
// or a timeout when PublishTimeout passes with no confirm at all.
func (r *Relay) publishAll(ctx context.Context, s *session, msgs []outgoing) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var progress atomic.Int64 // unix nanos of the latest confirm
	progress.Store(time.Now().UnixNano())
	var failure error // read once finished is closed
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if failure = r.publishWaves(ctx, s, msgs, &progress); failure != nil {
			cancel(failure)
		}
	}()

	tick := time.NewTicker(max(r.cfg.PublishTimeout/10, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if failure == nil {
				return nil // every event confirmed, even if ctx ended just now
			}
			return context.Cause(ctx)
		case <-tick.C:
			if idle := time.Since(time.Unix(0, progress.Load())); idle > r.cfg.PublishTimeout {
				cancel(fmt.Errorf("no publisher confirm for %s", idle.Round(time.Millisecond)))
			}
		case <-ctx.Done():
			// The publisher waiting for a confirm returns at once; one
			// blocked writing to a broker that stopped reading returns only
			// when the connection closes, so close it if it does not come back.
			if !wait(finished, stuckGrace) {
				s.fail(fmt.Errorf("%w: publishers stuck: %w", ErrNotConnected, context.Cause(ctx)))
				wait(finished, stuckGrace)
			}
			if isClosed(finished) && failure == nil {
				return nil
			}
			return context.Cause(ctx)
		}
	}
}

// publishWaves publishes the batch grouped by tenant, in waves: a wave
// publishes the next event of each of up to InFlight tenants back to back,
// spread over the channels, then waits for their confirms. A tenant's next
// event goes out only after the broker confirmed the previous one, so its
// events reach the exchange in commit order even when the broker refuses
// one; a tenant with nothing left makes room for the next, in order of
// their first events. One goroutine keeps up to InFlight confirms
// outstanding: a batch of one event per tenant (creates) is one wave, its
// confirms awaited together rather than by a goroutine each.
func (r *Relay) publishWaves(ctx context.Context, s *session, msgs []outgoing, progress *atomic.Int64) error {
	groups := byTenant(msgs)
	active := make([][]int, 0, min(r.cfg.InFlight, len(groups))) // each tenant's events not yet confirmed
	wave := make([]sent, 0, cap(active))
	next := 0
	for {
		for ; len(active) < r.cfg.InFlight && next < len(groups); next++ {
			active = append(active, groups[next])
		}
		if len(active) == 0 {
			return nil
		}
		wave = wave[:0]
		var err error
		for k, lane := range active {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
				break
			}
			var out sent
			if out, err = r.publish(ctx, s, s.chans[k%len(s.chans)], &msgs[lane[0]]); err != nil {
				break
			}
			wave = append(wave, out)
		}
		for _, out := range wave {
			if err != nil {
				// The batch failed: its remaining confirms do not matter.
				r.stats.inFlight.Add(-1)
				out.endSpan(err)
				continue
			}
			if err = r.confirm(ctx, s, out); err == nil {
				progress.Store(time.Now().UnixNano())
				r.confirmed.Add(1)
			}
		}
		if err != nil {
			return err
		}
		kept := active[:0]
		for _, lane := range active {
			if len(lane) > 1 {
				kept = append(kept, lane[1:])
			}
		}
		active = kept
	}
}

// sent is a published event waiting for its confirm.
type sent struct {
	m    *outgoing
	ch   *amqp.Channel
	dc   *amqp.DeferredConfirmation
	span trace.Span // nil when the relay does not trace
}

// publish publishes one event, in a span of its own when the relay traces,
// which ends with its confirm.
func (r *Relay) publish(ctx context.Context, s *session, ch *amqp.Channel, m *outgoing) (out sent, err error) {
	out = sent{m: m, ch: ch}
	pctx := ctx
	if r.tracer != nil {
		pctx, out.span = r.startPublish(ctx, m)
	}
	out.dc, err = ch.PublishWithDeferredConfirmWithContext(pctx, r.cfg.Exchange, m.key, false, false, m.pub)
	switch {
	case err != nil:
		err = fmt.Errorf("publish: %w", err)
	case out.dc == nil:
		err = errors.New("channel is not in confirm mode")
	}
	if err != nil {
		err = laneErr(ctx, s, ch, *m, err)
		out.endSpan(err)
		return sent{}, err
	}
	r.stats.published.Add(1)
	r.stats.inFlight.Add(1)
	return out, nil
}

// confirm waits for the broker's confirm of a published event.
func (r *Relay) confirm(ctx context.Context, s *session, out sent) (err error) {
	defer func() { out.endSpan(err) }()
	acked, werr := out.dc.WaitContext(ctx)
	r.stats.inFlight.Add(-1)
	if werr != nil {
		return context.Cause(ctx)
	}
	if !acked {
		r.stats.nacked.Add(1)
		return laneErr(ctx, s, out.ch, *out.m, errors.New("broker refused it (negative confirm)"))
	}
	return nil
}

// endSpan ends the event's span, failed unless err is nil.
func (out sent) endSpan(err error) {
	if out.span != nil {
		endPublish(out.span, err)
	}
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
