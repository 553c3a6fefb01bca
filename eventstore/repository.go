package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// maxConflictRetries bounds how often a command without an expected version
// is re-decided after losing a race to another writer.
const maxConflictRetries = 5

// Repository loads Tenant aggregates from their streams and appends what
// their commands record: the store owns the transaction, the domain owns the
// decision.
type Repository struct {
	store  *Store
	states StateSource
	now    func() time.Time
}

// StateSource reads a tenant's current state from the inline read model,
// which the append's transaction writes, so it is as current as the stream;
// domain.ErrTenantNotFound when it has none. projections.Tenants is one.
type StateSource interface {
	Get(ctx context.Context, id domain.TenantID) (domain.State, error)
}

// NewRepository returns a Repository over the store. Commands load the
// tenant from states, one query, when it is given, and replay the stream
// otherwise; the append's expected version catches a state that moved on.
func NewRepository(store *Store, states StateSource) *Repository {
	return &Repository{store: store, states: states, now: store.now}
}

// Outcome is what a command did; see domain.Outcome.
type Outcome = domain.Outcome

// Execute loads the tenant, runs decide on it and appends the recorded events
// with the loaded version as the expected one, in one transaction with the
// inline projections. A command without w.IfMatch that loses a race is
// re-decided on the fresh state a few times. Errors are domain errors where
// they mean something to a client (unknown tenant, stale version, a claim
// held by another tenant, PostgreSQL unreachable).
func (r *Repository) Execute(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (_ Outcome, err error) {
	defer postgres.ClassifyOn(&err)
	return r.execute(ctx, id, w, decide, r.current)
}

// Create is Execute for a tenant id nobody has used: it decides on an empty
// tenant without reading anything first. If the stream exists after all,
// the append conflicts and the command is decided again on the stored one.
func (r *Repository) Create(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (_ Outcome, err error) {
	defer postgres.ClassifyOn(&err)
	first := true
	return r.execute(ctx, id, w, decide, func(ctx context.Context, id domain.TenantID) (*domain.Tenant, error) {
		if first && w.IfMatch == nil {
			first = false
			return domain.NewTenant(r.now), nil
		}
		return r.current(ctx, id)
	})
}

func (r *Repository) execute(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error,
	load func(context.Context, domain.TenantID) (*domain.Tenant, error)) (Outcome, error) {
	if w.Idempotency != nil {
		if out, ok, err := r.replayIdempotent(ctx, w.Idempotency); err != nil || ok {
			return out, err
		}
	}
	stream := id.StreamID()
	for attempt := 0; ; attempt++ {
		t, err := load(ctx, id)
		if err != nil {
			return Outcome{}, err
		}
		before := t.State()
		// Times never go back within a stream (see Store.Append): decide
		// with the time the events will carry.
		now := r.now().UTC().Truncate(time.Microsecond)
		if last := t.State().UpdatedAt; now.Before(last) {
			now = last
		}
		t.Clock = func() time.Time { return now }
		if w.IfMatch != nil && *w.IfMatch != t.Version() {
			if t.Version() == 0 {
				return Outcome{}, domain.ErrTenantNotFound
			}
			return Outcome{}, domain.StaleVersion(*w.IfMatch, t.Version())
		}
		if err := decide(t); err != nil {
			return Outcome{}, err
		}
		if len(t.Pending()) == 0 {
			return Outcome{State: t.State()}, nil
		}
		state := t.State()
		res, err := r.store.Append(ctx, Append{StreamID: stream, TenantID: id,
			ExpectedVersion: t.Version(), Events: t.Pending(), OccurredAt: now,
			Metadata: w.Metadata, Idempotency: w.Idempotency, Before: &before, State: &state})
		var conflict *ConflictError
		switch {
		case errors.As(err, &conflict):
			if w.IfMatch != nil {
				return Outcome{}, domain.StaleVersion(*w.IfMatch, conflict.Actual)
			}
			if attempt+1 >= maxConflictRetries {
				return Outcome{}, domain.ErrConcurrentWrite
			}
			continue
		case err != nil:
			return Outcome{}, err
		case res.Duplicate:
			return r.stateAt(ctx, res)
		}
		return Outcome{State: state, Events: res.Events}, nil
	}
}

// replayIdempotent answers a request whose idempotency key was seen before.
func (r *Repository) replayIdempotent(ctx context.Context, idem *Idempotency) (Outcome, bool, error) {
	var hash []byte
	var stream string
	var version int64
	err := r.store.pool.QueryRow(ctx, `SELECT request_hash, stream_id, version FROM es_idempotency WHERE scope = $1`,
		idem.Scope).Scan(&hash, &stream, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return Outcome{}, false, nil
	}
	if err != nil {
		return Outcome{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if string(hash) != string(idem.RequestHash) {
		return Outcome{}, false, ErrIdempotencyMismatch
	}
	out, err := r.stateAt(ctx, Result{StreamID: stream, Version: domain.Version(version), Duplicate: true})
	return out, err == nil, err
}

func (r *Repository) stateAt(ctx context.Context, res Result) (Outcome, error) {
	id := domain.TenantID(strings.TrimPrefix(res.StreamID, domain.StreamPrefix))
	t, err := r.LoadAt(ctx, id, res.Version, time.Time{})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{State: t.State(), Duplicate: true}, nil
}

// current loads the tenant as it is now: from the read model when the
// repository has one (a tenant it does not hold is replayed, in case the
// model was reset), else from the stream.
func (r *Repository) current(ctx context.Context, id domain.TenantID) (*domain.Tenant, error) {
	if r.states != nil {
		st, err := r.states.Get(ctx, id)
		if err == nil {
			t := domain.NewTenant(r.now)
			t.Restore(st)
			return t, nil
		}
		if !errors.Is(err, domain.ErrTenantNotFound) {
			return nil, err
		}
	}
	return r.Load(ctx, id)
}

// Load rebuilds the tenant from its whole stream. A tenant that does not
// exist comes back at version 0.
func (r *Repository) Load(ctx context.Context, id domain.TenantID) (*domain.Tenant, error) {
	return r.LoadAt(ctx, id, 0, time.Time{})
}

// StateAt returns the tenant's state replayed up to version upTo (0: all)
// and time asOf (zero: now); a tenant that did not exist then comes back at
// version 0.
func (r *Repository) StateAt(ctx context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (_ domain.State, err error) {
	defer postgres.ClassifyOn(&err)
	t, err := r.LoadAt(ctx, id, upTo, asOf)
	if err != nil {
		return domain.State{}, err
	}
	return t.State(), nil
}

// LoadAt rebuilds the tenant from its stream up to version upTo (0: all) and
// up to time asOf (zero: now), starting from the latest snapshot within those
// bounds when there is one.
func (r *Repository) LoadAt(ctx context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (*domain.Tenant, error) {
	stream := id.StreamID()
	t := domain.NewTenant(r.now)
	from, err := r.restoreSnapshot(ctx, t, stream, upTo, asOf)
	if err != nil {
		return nil, err
	}
	events, err := r.store.ReadStreamUntil(ctx, stream, from, upTo, asOf)
	if err != nil {
		return nil, err
	}
	for _, se := range events {
		e, err := se.Decode()
		if err != nil {
			return nil, fmt.Errorf("load %s: event %d: %w", id, se.Version, err)
		}
		t.Replay(e, se.OccurredAt)
	}
	return t, nil
}

// restoreSnapshot restores the latest usable snapshot into t and returns its
// version (0 when there is none).
func (r *Repository) restoreSnapshot(ctx context.Context, t *domain.Tenant, stream string, upTo domain.Version, asOf time.Time) (domain.Version, error) {
	var args postgres.Args
	q := `SELECT version, state FROM es_snapshots WHERE stream_id = ` + args.Add(stream) + ` AND format = ` + args.Add(domain.SnapshotFormat)
	if upTo > 0 {
		q += " AND version <= " + args.Add(int64(upTo))
	}
	if !asOf.IsZero() {
		q += " AND occurred_at <= " + args.Add(asOf)
	}
	var version int64
	var raw []byte
	err := r.store.pool.QueryRow(ctx, q+" ORDER BY version DESC LIMIT 1", args...).Scan(&version, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load %s: snapshot: %w", stream, err)
	}
	var s domain.State
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("load %s: snapshot %d: %w", stream, version, err)
	}
	t.Restore(s)
	return domain.Version(version), nil
}
