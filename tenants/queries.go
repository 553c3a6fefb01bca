package tenants

import (
	"context"
	"encoding/json"
	"time"

	"tenant-service/domain"
)

// Tenant returns the tenant's current state (the read model is written with
// the append, so it reflects any position already committed).
func (s *Service) Tenant(ctx context.Context, id domain.TenantID) (domain.State, error) {
	return s.tenants.Get(ctx, id)
}

// TenantAt returns the tenant replayed up to version (0: all) and asOf (zero:
// now): what it looked like then.
func (s *Service) TenantAt(ctx context.Context, id domain.TenantID, version domain.Version, asOf time.Time) (domain.State, error) {
	st, err := s.store.StateAt(ctx, id, version, asOf)
	switch {
	case err != nil:
		return domain.State{}, err
	case !st.Exists() && !asOf.IsZero():
		// The tenant may exist now but did not yet then.
		return domain.State{}, domain.Errorf(domain.KindNotFound, "tenant-not-found-at-time",
			"the tenant did not exist at %s", asOf.UTC().Format(time.RFC3339))
	case !st.Exists():
		return domain.State{}, domain.ErrTenantNotFound
	case version > 0 && st.Version < version:
		return domain.State{}, domain.Errorf(domain.KindNotFound, "version-not-found",
			"the tenant has no version %d; its latest is %d", version, st.Version)
	}
	return st, nil
}

// Tenants lists tenants with the given statuses (default: all but deleted)
// whose name or external reference contains search (any case; empty: all),
// in creation order, a page at a time.
func (s *Service) Tenants(ctx context.Context, statuses []domain.Status, search, cursor string, limit int) ([]domain.State, string, error) {
	return s.tenants.List(ctx, statuses, search, cursor, limit)
}

// Events returns a page of the tenant's stream after a version, filtered.
// An unknown tenant is not found; a filter that matches nothing is an empty
// page.
func (s *Service) Events(ctx context.Context, id domain.TenantID, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error) {
	page, err := s.history.ReadStreamPage(ctx, id.StreamID(), after, limit, f)
	if err != nil {
		return domain.EventPage{}, err
	}
	if len(page.Events) == 0 {
		if _, err := s.tenants.Get(ctx, id); err != nil {
			return domain.EventPage{}, err
		}
	}
	return page, nil
}

// Feed returns a page of the global feed after a position, filtered.
func (s *Service) Feed(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error) {
	return s.history.ReadFeed(ctx, after, limit, f)
}

// errNoLiveHolder is the not-found of a lookup, the same whether the id is
// unknown, was never valid, or belongs to a deleted tenant.
var errNoLiveHolder = domain.Errorf(domain.KindNotFound, "tenant-not-found", "no live tenant holds this id")

// maxLookupLen bounds a phone-number or integration id worth looking up.
const maxLookupLen = 128

// ResolvePhone returns the context JSON of the live tenant holding the
// WhatsApp phone number id, reflecting every event up to min.
func (s *Service) ResolvePhone(ctx context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error) {
	return s.lookup(ctx, phoneNumberID, min, s.resolver.ByPhoneNumber)
}

// ResolveIntegration returns the context JSON of the live tenant holding the
// Genesys Open Messaging integration id.
func (s *Service) ResolveIntegration(ctx context.Context, integrationID string, min domain.Position) (json.RawMessage, error) {
	return s.lookup(ctx, integrationID, min, s.resolver.ByIntegration)
}

// ResolveTenant returns the context JSON of the live tenant.
func (s *Service) ResolveTenant(ctx context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error) {
	return s.lookup(ctx, string(id), min, func(ctx context.Context, v string, min domain.Position) (json.RawMessage, error) {
		return s.resolver.ByTenant(ctx, domain.TenantID(v), min)
	})
}

// lookup answers not found for a value no tenant could hold (control
// characters, invalid UTF-8, too long) without asking Redis or PostgreSQL.
func (s *Service) lookup(ctx context.Context, v string, min domain.Position, by func(context.Context, string, domain.Position) (json.RawMessage, error)) (json.RawMessage, error) {
	if !domain.ValidExternalID(v, maxLookupLen) {
		return nil, errNoLiveHolder
	}
	raw, err := by(ctx, v, min)
	if domain.KindOf(err) == domain.KindNotFound {
		return nil, errNoLiveHolder
	}
	return raw, err
}
