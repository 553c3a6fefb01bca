package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"time"

	"tenant-service/domain"
	"tenant-service/tenants"
)

// fakeApp stands in for the application: every use case answers err when it
// is set, else a plausible success, and records what it was called with.
type fakeApp struct {
	mu    sync.Mutex
	err   error
	calls []string
	write domain.Write // of the last command
}

var fakeTenant = domain.State{TenantID: "5f0c4a52-1d4e-4b6a-9c0f-2e5d8b1a6c33", Name: "Acme", Status: domain.StatusActive, Version: 3,
	Genesys: &domain.GenesysConfig{ClientID: "c", Region: "mypurecloud.de", ClientSecret: &domain.SecretRef{Hint: "****abcd"}}}

func (f *fakeApp) call(name string, w ...domain.Write) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if len(w) > 0 {
		f.write = w[0]
	}
	return f.err
}

func (f *fakeApp) outcome(name string, w domain.Write) (domain.Outcome, error) {
	if err := f.call(name, w); err != nil {
		return domain.Outcome{}, err
	}
	return domain.Outcome{State: fakeTenant}, nil
}

func (f *fakeApp) Create(_ context.Context, _ domain.CreateTenant, w domain.Write) (domain.Outcome, error) {
	return f.outcome("Create", w)
}
func (f *fakeApp) Update(_ context.Context, _ domain.TenantID, _ domain.UpdateTenant, w domain.Write) (domain.Outcome, error) {
	return f.outcome("Update", w)
}
func (f *fakeApp) Suspend(_ context.Context, _ domain.TenantID, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("Suspend", w)
}
func (f *fakeApp) Reactivate(_ context.Context, _ domain.TenantID, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("Reactivate", w)
}
func (f *fakeApp) Delete(_ context.Context, _ domain.TenantID, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("Delete", w)
}
func (f *fakeApp) Tenant(context.Context, domain.TenantID) (domain.State, error) {
	return fakeTenant, f.call("Tenant")
}
func (f *fakeApp) TenantAt(context.Context, domain.TenantID, domain.Version, time.Time) (domain.State, error) {
	return fakeTenant, f.call("TenantAt")
}
func (f *fakeApp) Tenants(context.Context, []domain.Status, string, string, int) ([]domain.State, string, error) {
	return []domain.State{fakeTenant}, "", f.call("Tenants")
}
func (f *fakeApp) Events(context.Context, domain.TenantID, domain.Version, int, domain.EventFilter) (domain.EventPage, error) {
	return domain.EventPage{}, f.call("Events")
}
func (f *fakeApp) Feed(context.Context, domain.Position, int, domain.EventFilter) (domain.EventPage, error) {
	return domain.EventPage{Head: 7}, f.call("Feed")
}
func (f *fakeApp) SetGenesysCredentials(_ context.Context, _ domain.TenantID, _, _, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("SetGenesysCredentials", w)
}
func (f *fakeApp) Credentials(context.Context, domain.TenantID) (domain.State, error) {
	return fakeTenant, f.call("Credentials")
}
func (f *fakeApp) LinkGenesysIntegration(_ context.Context, _ domain.TenantID, _, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("LinkGenesysIntegration", w)
}
func (f *fakeApp) GenesysSecrets(context.Context, domain.TenantID) (tenants.GenesysSecrets, error) {
	return tenants.GenesysSecrets{ClientSecret: "s3cret"}, f.call("GenesysSecrets")
}
func (f *fakeApp) GenesysToken(context.Context, domain.TenantID) (tenants.AccessToken, error) {
	return tenants.AccessToken{AccessToken: "tok"}, f.call("GenesysToken")
}
func (f *fakeApp) LinkWhatsApp(_ context.Context, _ domain.TenantID, _ domain.WABALinked, _ *string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("LinkWhatsApp", w)
}
func (f *fakeApp) UnlinkWhatsApp(_ context.Context, _ domain.TenantID, _ string, w domain.Write) (domain.Outcome, error) {
	return f.outcome("UnlinkWhatsApp", w)
}
func (f *fakeApp) WhatsAppToken(context.Context, domain.TenantID, domain.Position) (tenants.WhatsAppToken, error) {
	return tenants.WhatsAppToken{AccessToken: "EAA"}, f.call("WhatsAppToken")
}
func (f *fakeApp) CompleteSignup(_ context.Context, _ tenants.Signup, w domain.Write) (domain.Outcome, error) {
	return f.outcome("CompleteSignup", w)
}
func (f *fakeApp) VerifyWebhook(url.Values) (string, error) {
	return "challenge", f.call("VerifyWebhook")
}
func (f *fakeApp) RecordWebhook(context.Context, []byte, string, domain.Metadata) (tenants.WebhookResult, error) {
	return tenants.WebhookResult{Recorded: 1}, f.call("RecordWebhook")
}
func (f *fakeApp) ResolvePhone(context.Context, string, domain.Position) (json.RawMessage, error) {
	return json.RawMessage(`{"tenantId":"t"}`), f.call("ResolvePhone")
}
func (f *fakeApp) ResolveIntegration(context.Context, string, domain.Position) (json.RawMessage, error) {
	return json.RawMessage(`{"tenantId":"t"}`), f.call("ResolveIntegration")
}
func (f *fakeApp) ResolveTenant(context.Context, domain.TenantID, domain.Position) (json.RawMessage, error) {
	return json.RawMessage(`{"tenantId":"t"}`), f.call("ResolveTenant")
}
func (f *fakeApp) VerifyTenant(context.Context, domain.TenantID) (domain.StreamVerification, error) {
	return domain.StreamVerification{StreamID: "tenant-" + testTenant, Version: 3, Checked: 3}, f.call("VerifyTenant")
}
func (f *fakeApp) VerifyFeed(_ context.Context, after domain.Position, _ int) (domain.FeedVerification, error) {
	return domain.FeedVerification{From: after + 1, To: after + 2, Checked: 2, Head: after + 5}, f.call("VerifyFeed")
}
