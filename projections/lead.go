package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tenant-service/domain"
)

// leadOptions bound one term of leadership.
type leadOptions struct {
	// finite ends the term once no rebuild is pending and the checkpoint
	// reached until (an in-process rebuild); otherwise it runs until ctx ends.
	finite bool
	until  domain.Position
	// progress, when set, is told the checkpoint after every batch.
	progress func(done, total int64)
}

// lead runs the projector while l holds its lock. It returns nil when the
// term ends as asked (ctx or opts), or the error that ended the lease.
func (r *Runner) lead(ctx context.Context, l *lease, p Projector, opts leadOptions) error {
	log := r.log.With("projector", l.name)
	var wake <-chan struct{}
	if r.wake != nil {
		ch, unsubscribe := r.wake.Subscribe()
		defer unsubscribe()
		wake = ch
	}
	bo := backoff{min: r.cfg.MinBackoff, max: r.cfg.MaxBackoff}
	pc := pace{min: r.cfg.MinInterval}
	// failed records a processing failure and backs off; the same batch is
	// read again afterwards, so nothing is skipped.
	failed := func(what string, err error) error {
		wait := bo.next()
		log.Warn("projector "+what+" failed; retrying", "error", err, "retry_in", wait.String())
		if rerr := l.recordError(err); rerr != nil {
			return rerr
		}
		sleep(l.ctx, wait)
		return nil
	}
	for {
		if l.ctx.Err() != nil {
			return r.endOfTerm(ctx, l)
		}
		cp, err := l.read()
		if err != nil {
			return r.endOfTerm(ctx, l)
		}
		if cp.rebuild {
			if rerr := r.reset(l, p, "rebuild requested"); rerr != nil && failed("reset", rerr) != nil {
				return r.endOfTerm(ctx, l)
			}
			continue
		}
		if opts.finite && cp.position >= opts.until {
			return nil
		}
		pc.reading()
		events, err := r.next(l.ctx, p, cp.position)
		if err == nil && len(events) > 0 {
			err = p.Handle(l.ctx, events)
		}
		switch {
		case l.ctx.Err() != nil:
			return r.endOfTerm(ctx, l)
		case errors.Is(err, ErrLost):
			log.Warn("projector read model lost its data; resetting and replaying from position 0", "checkpoint", int64(cp.position), "error", err)
			if rerr := r.reset(l, p, "read model lost"); rerr != nil && failed("reset", rerr) != nil {
				return r.endOfTerm(ctx, l)
			}
		case err != nil:
			if failed("batch", err) != nil {
				return r.endOfTerm(ctx, l)
			}
		case len(events) == 0:
			bo.reset()
			pc.idle(l.ctx, wake, r.cfg.PollInterval)
		default:
			last := events[len(events)-1].Position
			if err := l.advance(last); err != nil {
				return r.endOfTerm(ctx, l)
			}
			bo.reset()
			if opts.progress != nil {
				opts.progress(int64(last), int64(opts.until))
			}
			// A short batch read to the head: wait for the next commit's
			// wake-up rather than read again to find nothing. A commit that
			// came after the read has already left its wake-up.
			if len(events) < r.cfg.BatchSize && !opts.finite {
				pc.idle(l.ctx, wake, r.cfg.PollInterval)
			}
		}
	}
}

// endOfTerm says why the term ended: nil when the caller's ctx ended,
// otherwise the reason the lease was lost.
func (r *Runner) endOfTerm(ctx context.Context, l *lease) error {
	if ctx.Err() != nil {
		return nil
	}
	if cause := context.Cause(l.ctx); cause != nil {
		return cause
	}
	return errors.New("lease ended")
}

// next verifies the read model and reads the batch after the checkpoint.
func (r *Runner) next(ctx context.Context, p Projector, after domain.Position) ([]domain.StoredEvent, error) {
	if v, ok := p.(Verifier); ok {
		if err := v.Verify(ctx, after); err != nil {
			return nil, err
		}
	}
	events, err := r.src.ReadFrom(ctx, after, r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	return events, nil
}

// reset empties the read model and restarts the checkpoint at 0.
func (r *Runner) reset(l *lease, p Projector, why string) error {
	start := time.Now()
	if rs, ok := p.(Resetter); ok {
		if err := rs.Reset(l.ctx); err != nil {
			return fmt.Errorf("reset %s: %w", l.name, err)
		}
	}
	if err := l.restart(); err != nil {
		return err
	}
	r.log.Info("projector reset; replaying from position 0", "projector", l.name, "reason", why, "took", time.Since(start).String())
	return nil
}
