package tenants

import (
	"context"
	"errors"
	"time"

	"tenant-service/domain"
)

// Create records a new tenant (TenantCreated) under a fresh id. With an
// idempotency scope in w, a retry answers the first tenant.
func (s *Service) Create(ctx context.Context, in domain.CreateTenant, w domain.Write) (out domain.Outcome, err error) {
	var id domain.TenantID
	defer s.observe("create", &id, time.Now(), &out, &err)
	if w.IfMatch != nil {
		return domain.Outcome{}, domain.Invalid(domain.FieldError{Field: "If-Match", Message: "a new tenant has no version to match"})
	}
	id = domain.NewTenantID()
	out, err = s.store.Create(ctx, id, w, func(t *domain.Tenant) error { return t.Create(id, in) })
	return out, s.mapClaim(err, w)
}

// Update changes the tenant's name, external reference or settings
// (TenantUpdated); an update that changes nothing records nothing.
func (s *Service) Update(ctx context.Context, id domain.TenantID, in domain.UpdateTenant, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("update", &id, time.Now(), &out, &err)
	return s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.Update(in) })
}

// Suspend records TenantSuspended.
func (s *Service) Suspend(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("suspend", &id, time.Now(), &out, &err)
	return s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.Suspend(reason) })
}

// Reactivate records TenantReactivated.
func (s *Service) Reactivate(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("reactivate", &id, time.Now(), &out, &err)
	return s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.Reactivate(reason) })
}

// Delete records TenantDeleted. The append that records it destroys the
// tenant's data key in the same transaction (crypto-shredding): from then on
// every replica refuses its secrets. Its cached Genesys token is dropped as
// well (best effort: the key is gone, so the token could not be opened).
func (s *Service) Delete(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("delete", &id, time.Now(), &out, &err)
	out, err = s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.Delete(reason) })
	if err == nil && len(out.Events) > 0 {
		s.dropToken(ctx, id)
	}
	return out, err
}

// dropToken removes the tenant's cached Genesys token, logging a failure:
// the cache is keyed by the credentials too, so a stale token is never
// served; dropping it is tidiness.
func (s *Service) dropToken(ctx context.Context, id domain.TenantID) {
	if s.tokens == nil {
		return
	}
	if err := s.tokens.Invalidate(ctx, string(id)); err != nil {
		s.cfg.Log.WarnContext(ctx, "dropping a cached Genesys token failed", "tenant_id", string(id), "error", err.Error())
	}
}

// execute runs a command and turns a claim held by another tenant into the
// 409 the client sees: the owner is named to admins only.
func (s *Service) execute(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (domain.Outcome, error) {
	out, err := s.store.Execute(ctx, id, w, decide)
	return out, s.mapClaim(err, w)
}

// mapClaim turns a claim held by another tenant into the 409 the client
// sees: the owner is named to admins only.
func (s *Service) mapClaim(err error, w domain.Write) error {
	var claim claimConflict
	if errors.As(err, &claim) {
		return claim.DomainError(w.Metadata.ActorRole == RoleAdmin)
	}
	return err
}

// claimConflict is a phone number or integration id held by another live
// tenant (the read model's ClaimError).
type claimConflict interface {
	error
	DomainError(showOwner bool) *domain.Error
}

// RoleAdmin is the role that may learn which tenant holds a claimed value.
const RoleAdmin = "admin"
