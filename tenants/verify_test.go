package tenants_test

import (
	"context"
	"testing"

	"tenant-service/domain"
	"tenant-service/tenants"
)

// stubChain answers VerifyStream with the stream's entry in streams (a
// stream not there has no events) and VerifyFeed with feed.
type stubChain struct {
	streams map[string]domain.StreamVerification
	feed    domain.FeedVerification
	asked   []domain.Position
}

func (c *stubChain) VerifyStream(_ context.Context, streamID string) (domain.StreamVerification, error) {
	if r, ok := c.streams[streamID]; ok {
		return r, nil
	}
	return domain.StreamVerification{StreamID: streamID}, nil
}

func (c *stubChain) VerifyFeed(_ context.Context, after domain.Position, _ int) (domain.FeedVerification, error) {
	c.asked = append(c.asked, after)
	return c.feed, nil
}

func TestVerifyTenant(t *testing.T) {
	known := domain.NewTenantID()
	broken := domain.NewTenantID()
	chain := &stubChain{streams: map[string]domain.StreamVerification{
		known.StreamID():  {StreamID: known.StreamID(), Version: 4, Checked: 4},
		broken.StreamID(): {StreamID: broken.StreamID(), Version: 2, Checked: 1, Break: &domain.ChainBreak{Position: 9, Version: 2, Reason: "edited"}},
	}, feed: domain.FeedVerification{From: 4, To: 6, Checked: 3, Head: 6}}
	h := newHarness(t, func(d *tenants.Deps, _ *tenants.Config) { d.Chain = chain })
	ctx := context.Background()
	if res, err := h.svc.VerifyTenant(ctx, known); err != nil || res.Checked != 4 || res.Break != nil {
		t.Fatalf("known tenant: %+v %v", res, err)
	}
	if res, err := h.svc.VerifyTenant(ctx, broken); err != nil || res.Break == nil || res.Break.Position != 9 {
		t.Fatalf("broken tenant: %+v %v", res, err)
	}
	if _, err := h.svc.VerifyTenant(ctx, domain.NewTenantID()); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("unknown tenant: %v, want not found", err)
	}
	if res, err := h.svc.VerifyFeed(ctx, 3, 10); err != nil || res.Checked != 3 || len(chain.asked) != 1 || chain.asked[0] != 3 {
		t.Fatalf("feed: %+v %v %v", res, err, chain.asked)
	}
	// Without a Chain the use cases are unavailable, not a crash.
	bare := newHarness(t)
	if _, err := bare.svc.VerifyTenant(ctx, known); domain.KindOf(err) != domain.KindUnavailable {
		t.Fatalf("without a chain: %v", err)
	}
}
