package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// ProjectorStatus is one asynchronous projector's progress, for metrics and
// the `projections status` command.
type ProjectorStatus struct {
	Name      string          `json:"name"`
	Position  domain.Position `json:"position"` // checkpoint: the last event handled
	Head      domain.Position `json:"head"`     // the last committed event
	Lag       int64           `json:"lag"`      // Head - Position, never negative
	UpdatedAt time.Time       `json:"updatedAt"`
	LastError string          `json:"lastError,omitempty"` // the failure it is retrying, if any
	// Generation counts the resets (rebuilds, lost read models) of the projector.
	Generation int64 `json:"generation"`
	// RebuildRequested is true from a rebuild request until its leader starts it.
	RebuildRequested bool `json:"rebuildRequested"`
	// Leader is true while some process holds the projector's lock.
	Leader bool `json:"leader"`
}

// Status returns the checkpoint of every asynchronous projector that has one,
// by name, with the head of the event store and the lag.
func (r *Runner) Status(ctx context.Context) ([]ProjectorStatus, error) {
	head, err := r.src.HeadPosition(ctx)
	if err != nil {
		return nil, fmt.Errorf("projector status: %w", err)
	}
	held, err := r.heldLocks(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := r.pool.Query(ctx, `SELECT subscriber, position, updated_at, COALESCE(last_error, ''),
		generation, rebuild_requested_at IS NOT NULL FROM projector_checkpoints ORDER BY subscriber`)
	if err != nil {
		return nil, fmt.Errorf("projector status: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ProjectorStatus, error) {
		var s ProjectorStatus
		var pos int64
		err := row.Scan(&s.Name, &pos, &s.UpdatedAt, &s.LastError, &s.Generation, &s.RebuildRequested)
		s.Position, s.Head, s.Lag = domain.Position(pos), head, max(int64(head)-pos, 0)
		s.Leader = held[LockKey(s.Name)]
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("projector status: %w", err)
	}
	return out, nil
}

// heldLocks returns the bigint advisory locks granted in this database.
func (r *Runner) heldLocks(ctx context.Context) (map[int64]bool, error) {
	rows, err := r.pool.Query(ctx, `SELECT classid::bigint, objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil {
		return nil, fmt.Errorf("projector locks: %w", err)
	}
	held := map[int64]bool{}
	var hi, lo int64
	_, err = pgx.ForEachRow(rows, []any{&hi, &lo}, func() error {
		held[int64(uint64(hi)<<32|uint64(lo))] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projector locks: %w", err)
	}
	return held, nil
}

// RebuildRequest identifies a requested rebuild.
type RebuildRequest struct {
	Name string
	// Generation is the checkpoint's generation when the rebuild was asked
	// for; it has started once the generation is higher.
	Generation int64
	// Target is the head at the time of the request: the rebuild is done once
	// it started and the checkpoint reached Target.
	Target domain.Position
}

// RequestRebuild marks the projector's checkpoint for a reset and wakes the
// runners: the replica leading it resets the read model between two batches,
// replays from position 0 and clears the mark. Follow it with Status or RebuildDone.
func (r *Runner) RequestRebuild(ctx context.Context, name string) (RebuildRequest, error) {
	if name == "" || name == TenantsName {
		return RebuildRequest{}, fmt.Errorf("request rebuild: %q is not an asynchronous projector", name)
	}
	req := RebuildRequest{Name: name}
	head, err := r.src.HeadPosition(ctx)
	if err != nil {
		return RebuildRequest{}, fmt.Errorf("request rebuild of %s: %w", name, err)
	}
	req.Target = head
	if err := r.pool.QueryRow(ctx, `INSERT INTO projector_checkpoints (subscriber, rebuild_requested_at) VALUES ($1, now())
		ON CONFLICT (subscriber) DO UPDATE SET rebuild_requested_at = now() RETURNING generation`, name).
		Scan(&req.Generation); err != nil {
		return RebuildRequest{}, fmt.Errorf("request rebuild of %s: %w", name, err)
	}
	// Wake the leading replica at once instead of at its next poll.
	if err := r.src.Signal(ctx); err != nil {
		r.log.Warn("could not wake the projectors; the leader starts the rebuild at its next poll", "error", err)
	}
	r.log.Info("projector rebuild requested", "projector", name, "target", int64(req.Target))
	return req, nil
}

// RebuildDone reports whether the requested rebuild finished, and the position it
// has replayed to (0 until it started).
func (r *Runner) RebuildDone(ctx context.Context, req RebuildRequest) (bool, domain.Position, error) {
	var pos, gen int64
	err := r.pool.QueryRow(ctx, `SELECT position, generation FROM projector_checkpoints WHERE subscriber = $1`, req.Name).
		Scan(&pos, &gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("rebuild progress of %s: %w", req.Name, err)
	}
	if gen <= req.Generation {
		return false, 0, nil
	}
	return domain.Position(pos) >= req.Target, domain.Position(pos), nil
}
