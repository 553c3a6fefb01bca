package projections

import (
	"context"
	"errors"
	"fmt"
)

// Rebuild rebuilds the projector's read model while the service keeps
// serving, and returns once it has replayed every event up to the head at the
// time of the call. It requests the rebuild (see RequestRebuild); when a
// running replica leads the projector it waits for that replica to do it,
// otherwise it takes the lock and runs the rebuild in this process. It also
// takes over when the leader goes away in the middle. progress, when set, is
// called with the position replayed so far and the target.
func (r *Runner) Rebuild(ctx context.Context, p Projector, progress func(done, total int64)) error {
	name := p.Name()
	req, err := r.RequestRebuild(ctx, name)
	if err != nil {
		return err
	}
	report := func(done, total int64) {
		if progress != nil {
			progress(min(done, total), total)
		}
	}
	target := int64(req.Target)
	for {
		done, pos, err := r.RebuildDone(ctx, req)
		if err != nil {
			return err
		}
		report(int64(pos), target)
		if done {
			return nil
		}
		l, err := r.contend(ctx, name, false)
		switch {
		case err == nil:
			r.log.Info("rebuilding projector in this process", "projector", name, "target", target)
			err = r.lead(ctx, l, p, leadOptions{finite: true, until: req.Target, progress: report})
			l.release()
			if ctx.Err() != nil {
				return fmt.Errorf("rebuild %s: %w", name, ctx.Err())
			}
			if err == nil {
				continue // RebuildDone confirms the result
			}
			r.log.Warn("in-process rebuild lost its lock; checking again", "projector", name, "error", err)
		case errors.Is(err, errHeld):
			// A running replica leads the projector: it picks the request up.
		case ctx.Err() != nil:
			return fmt.Errorf("rebuild %s: %w", name, ctx.Err())
		default:
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
		sleep(ctx, r.cfg.PollInterval)
		if ctx.Err() != nil {
			return fmt.Errorf("rebuild %s: %w", name, ctx.Err())
		}
	}
}
