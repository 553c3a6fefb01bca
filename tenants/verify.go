package tenants

import (
	"context"

	"tenant-service/domain"
)

// errNoChain is the answer of the verify use cases when the service was
// built without a Chain.
var errNoChain = domain.Errorf(domain.KindUnavailable, "verification-unavailable", "history verification is not configured")

// VerifyTenant checks the hash chain of the tenant's stream. A deleted
// tenant keeps its history and verifies; a tenant that never existed is not
// found.
func (s *Service) VerifyTenant(ctx context.Context, id domain.TenantID) (domain.StreamVerification, error) {
	if s.chain == nil {
		return domain.StreamVerification{}, errNoChain
	}
	res, err := s.chain.VerifyStream(ctx, id.StreamID())
	if err != nil {
		return domain.StreamVerification{}, err
	}
	if res.Version == 0 && res.Checked == 0 && res.Break == nil {
		return domain.StreamVerification{}, domain.ErrTenantNotFound
	}
	return res, nil
}

// VerifyFeed checks one page of the global chain after a position (at most
// limit events), anchored at that position's chain hash.
func (s *Service) VerifyFeed(ctx context.Context, after domain.Position, limit int) (domain.FeedVerification, error) {
	if s.chain == nil {
		return domain.FeedVerification{}, errNoChain
	}
	return s.chain.VerifyFeed(ctx, after, limit)
}
