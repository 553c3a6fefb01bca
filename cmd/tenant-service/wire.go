package main

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/handlers"
	"tenant-service/projections"
)

// writer adapts the event store's Repository to handlers.Writer.
type writer struct {
	repo *eventstore.Repository
	// shred destroys a tenant's data key inside the append's transaction. Optional.
	shred func(ctx context.Context, tx pgx.Tx, id domain.TenantID) error
}

func (w writer) Execute(ctx context.Context, id domain.TenantID, opts handlers.WriteOptions, decide func(*domain.Tenant) error) (handlers.WriteResult, error) {
	cmd := eventstore.Command{TenantID: id, IfMatch: opts.IfMatch, Metadata: opts.Metadata}
	if opts.IdempotencyScope != "" {
		cmd.Idempotency = &eventstore.Idempotency{Scope: opts.IdempotencyScope, RequestHash: opts.RequestHash}
	}
	if opts.DestroyDataKey && w.shred != nil {
		cmd.InTx = func(ctx context.Context, tx pgx.Tx) error { return w.shred(ctx, tx, id) }
	}
	out, err := w.repo.Execute(ctx, cmd, decide)
	var claim *projections.ClaimError
	if errors.As(err, &claim) {
		// Only admins learn which tenant holds the value.
		return handlers.WriteResult{}, claim.DomainError(opts.Metadata.ActorRole == string(handlers.RoleAdmin))
	}
	if err != nil {
		return handlers.WriteResult{}, err
	}
	return handlers.WriteResult{State: out.State, Events: out.Events, Duplicate: out.Duplicate}, nil
}

// history adapts the store and repository to handlers.History.
type history struct {
	store *eventstore.Store
	repo  *eventstore.Repository
}

func (h history) StateAt(ctx context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (domain.State, error) {
	t, err := h.repo.LoadAt(ctx, id, upTo, asOf)
	if err != nil {
		return domain.State{}, err
	}
	return t.State(), nil
}

func (h history) ReadStreamPage(ctx context.Context, streamID string, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error) {
	return h.store.ReadStreamPage(ctx, streamID, after, limit, f)
}

func (h history) ReadFeed(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error) {
	return h.store.ReadFeed(ctx, after, limit, f)
}

// resolverAdapter gives handlers the resolver's contexts as JSON-ready values.
type resolverAdapter struct{ r *projections.Resolver }

func (a resolverAdapter) ByPhoneNumber(ctx context.Context, id string, min domain.Position) (any, error) {
	return a.r.ByPhoneNumber(ctx, id, min)
}

func (a resolverAdapter) ByIntegration(ctx context.Context, id string, min domain.Position) (any, error) {
	return a.r.ByIntegration(ctx, id, min)
}

func (a resolverAdapter) ByTenant(ctx context.Context, id domain.TenantID, min domain.Position) (any, error) {
	return a.r.ByTenant(ctx, id, min)
}
