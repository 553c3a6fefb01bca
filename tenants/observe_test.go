package tenants_test

import (
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/tenants"
)

// observed records what the Service reports.
type observed struct {
	mu    sync.Mutex
	lines []string
}

func (o *observed) Command(command string, tenant domain.TenantID, outcome string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	who := "-"
	if tenant != "" {
		who = "tenant"
	}
	o.lines = append(o.lines, command+" "+who+" "+outcome)
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.lines
	o.lines = nil
	return out
}

// Every command reports its name, tenant and outcome once, whether it
// recorded events, changed nothing, was a retry or was refused.
func TestCommandsAreObserved(t *testing.T) {
	obs := &observed{}
	h := newHarness(t, func(d *tenants.Deps, _ *tenants.Config) { d.Observer = obs })
	ctx := t.Context()
	id := h.create(t, "Observed")
	name := "Observed"
	steps := []struct {
		run  func() error
		want string
	}{
		{func() error { _, err := h.svc.Update(ctx, id, domain.UpdateTenant{Name: &name}, asAdmin); return err }, "update tenant unchanged"},
		{func() error { _, err := h.svc.Suspend(ctx, id, "unpaid", asAdmin); return err }, "suspend tenant applied"},
		{func() error { _, err := h.svc.Reactivate(ctx, id, "", ifMatch(asAdmin, 1)); return err }, "reactivate tenant precondition"},
		{func() error {
			_, err := h.svc.Update(ctx, domain.NewTenantID(), domain.UpdateTenant{Name: &name}, asAdmin)
			return err
		}, "update tenant not_found"},
		{func() error {
			_, err := h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: "w"}, nil, asAdmin)
			return err
		}, "link_whatsapp tenant invalid"},
		{func() error { _, err := h.svc.Delete(ctx, id, "", asAdmin); return err }, "delete tenant applied"},
	}
	obs.take() // the create
	for i, s := range steps {
		_ = s.run()
		if got := obs.take(); len(got) != 1 || got[0] != s.want {
			t.Errorf("step %d: observed %q, want %q", i, got, s.want)
		}
	}
	key := asAdmin
	key.Idempotency = &domain.Idempotency{Scope: "admin:obs|k", RequestHash: []byte("h")}
	for _, want := range []string{"create tenant applied", "create tenant duplicate"} {
		if _, err := h.svc.Create(ctx, domain.CreateTenant{Name: "Keyed"}, key); err != nil {
			t.Fatal(err)
		}
		if got := obs.take(); len(got) != 1 || got[0] != want {
			t.Errorf("keyed create: observed %q, want %q", got, want)
		}
	}
}
