package tenants_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/tenants"
)

// New refuses to build a Service without its required ports, naming each,
// and accepts one without the optional ones.
func TestNewRequiresTheCorePorts(t *testing.T) {
	_, err := tenants.New(tenants.Deps{}, tenants.Config{})
	if err == nil {
		t.Fatal("New without ports succeeded")
	}
	for _, name := range []string{"store", "history", "tenants", "resolver", "vault"} {
		if !strings.Contains(err.Error(), "the "+name+" is required") {
			t.Errorf("error %q does not name the missing %s", err, name)
		}
	}
	h := newHarness(t)
	if _, err := tenants.New(tenants.Deps{Store: h.store, History: h.store, Tenants: h.store, Resolver: h.resolver,
		Vault: h.vault}, tenants.Config{}); err != nil {
		t.Fatalf("New without the optional ports: %v", err)
	}
}

func TestCreate(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	in := domain.CreateTenant{Name: "Acme", ExternalRef: "crm-42", Settings: domain.Settings{RateLimit: &domain.RateLimit{PerSecond: 5, Burst: 10}}}
	out, err := h.svc.Create(ctx, in, asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	id := out.State.TenantID
	if _, err := domain.ParseTenantID(string(id)); err != nil {
		t.Fatalf("new tenant id: %v", err)
	}
	if got := typesOf(out.Events); !slices.Equal(got, []string{domain.EventTenantCreated}) {
		t.Fatalf("events = %q, want TenantCreated", got)
	}
	if out.State.Version != 1 || out.Events[0].Version != 1 || out.State.Status != domain.StatusActive {
		t.Fatalf("outcome = version %d, event version %d, status %s; want 1, 1, active", out.State.Version, out.Events[0].Version, out.State.Status)
	}
	ev := decode[domain.TenantCreated](t, out.Events[0])
	if ev.TenantID != id || ev.Name != "Acme" || ev.ExternalRef != "crm-42" || *ev.Settings.RateLimit != *in.Settings.RateLimit {
		t.Fatalf("TenantCreated = %+v", ev)
	}
	if out.Events[0].Metadata != asAdmin.Metadata {
		t.Fatalf("metadata = %+v, want the write's %+v", out.Events[0].Metadata, asAdmin.Metadata)
	}
	st, err := h.svc.Tenant(ctx, id)
	if err != nil || st.Version != 1 || st.Name != "Acme" {
		t.Fatalf("Tenant after Create = %+v, %v", st, err)
	}
}

// A retried Create with the same idempotency scope answers the first tenant
// instead of creating a second one, although each call draws a fresh id.
func TestCreateRetriedAnswersTheFirstTenant(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	w := asAdmin
	w.Idempotency = &domain.Idempotency{Scope: "admin:3f9a1c2b|key-1", RequestHash: []byte("create Acme")}
	first, err := h.svc.Create(ctx, domain.CreateTenant{Name: "Acme"}, w)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.svc.Create(ctx, domain.CreateTenant{Name: "Acme"}, w)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.State.TenantID != first.State.TenantID || len(again.Events) != 0 {
		t.Fatalf("retry = duplicate %v, tenant %s, %d events; want the first tenant %s, no events",
			again.Duplicate, again.State.TenantID, len(again.Events), first.State.TenantID)
	}
	list, _, err := h.svc.Tenants(ctx, nil, "", "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("Tenants = %d tenants, %v; want 1", len(list), err)
	}
}

// seed makes the tenant a command case starts from.
type seed func(t *testing.T, h *harness) domain.TenantID

func created(t *testing.T, h *harness) domain.TenantID { return h.create(t, "acme") }
func full(t *testing.T, h *harness) domain.TenantID    { return h.full(t, "acme") }

// run is a command of the Service on a tenant, with the write under test.
type run func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error)

// The commands of the Service, each with input valid for a full tenant
// ("acme", see harness.full), so that only the situation decides the answer.
var commands = []struct {
	name string
	run  run
}{
	{"Update", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.Update(ctx, id, domain.UpdateTenant{Name: new("Acme Renamed")}, w)
	}},
	{"Suspend", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.Suspend(ctx, id, "unpaid invoices", w)
	}},
	{"Reactivate", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.Reactivate(ctx, id, "paid", w)
	}},
	{"Delete", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.Delete(ctx, id, "contract ended", w)
	}},
	{"SetGenesysCredentials", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.SetGenesysCredentials(ctx, id, "client-2", "rotated-client-secret-PLAINTEXT-4", "mypurecloud.ie", w)
	}},
	{"LinkGenesysIntegration", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.LinkGenesysIntegration(ctx, id, "integration-2", "new-webhook-secret-PLAINTEXT-5", w)
	}},
	{"LinkWhatsApp", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "5559999",
			DisplayPhoneNumber: "+49 30 5559999"}, new("EAAG-another-token-PLAINTEXT-6"), w)
	}},
	{"UnlinkWhatsApp", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.UnlinkWhatsApp(ctx, id, "phone-acme", w)
	}},
	{"CompleteSignup", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
		return h.svc.CompleteSignup(ctx, tenants.Signup{TenantID: string(id), Code: "AQBx-signup-code", WABAID: wabaID}, w)
	}},
}

// command returns the command of that name.
func command(name string) run {
	for _, c := range commands {
		if c.name == name {
			return c.run
		}
	}
	panic("no command " + name)
}

// Every command records its event types in one append and answers the new
// version, which the read model reflects at once.
func TestCommandsRecordTheirEvents(t *testing.T) {
	suspended := func(t *testing.T, h *harness) domain.TenantID {
		id := h.full(t, "acme")
		if _, err := h.svc.Suspend(t.Context(), id, "", asAdmin); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, tc := range []struct {
		name, command string
		seed          seed
		want          []string
	}{
		{"update", "Update", full, []string{domain.EventTenantUpdated}},
		{"suspend", "Suspend", full, []string{domain.EventTenantSuspended}},
		{"reactivate a suspended tenant", "Reactivate", suspended, []string{domain.EventTenantReactivated}},
		{"delete", "Delete", full, []string{domain.EventTenantDeleted}},
		{"delete a suspended tenant", "Delete", suspended, []string{domain.EventTenantDeleted}},
		{"first Genesys credentials", "SetGenesysCredentials", created, []string{domain.EventGenesysCredentialsSet}},
		{"Genesys credentials again rotate", "SetGenesysCredentials", full, []string{domain.EventCredentialsRotated}},
		{"link a Genesys integration", "LinkGenesysIntegration", created, []string{domain.EventGenesysIntegrationLinked}},
		{"link a number with its token", "LinkWhatsApp", created, []string{domain.EventWABALinked, domain.EventWhatsAppTokenStored}},
		{"link another number of the WABA", "LinkWhatsApp", full, []string{domain.EventWABALinked, domain.EventWhatsAppTokenStored}},
		{"unlink a number", "UnlinkWhatsApp", full, []string{domain.EventWABAUnlinked}},
		{"complete Embedded Signup", "CompleteSignup", created,
			[]string{domain.EventWABALinked, domain.EventWABALinked, domain.EventWhatsAppTokenStored}},
		{"complete Embedded Signup on a full tenant", "CompleteSignup", full,
			[]string{domain.EventWABALinked, domain.EventWABALinked, domain.EventWhatsAppTokenStored}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := tc.seed(t, h)
			before := h.store.State(id).Version
			h.sb.Reset()
			out, err := command(tc.command)(t.Context(), h, id, asUser)
			if err != nil {
				t.Fatal(err)
			}
			if got := typesOf(out.Events); !slices.Equal(got, tc.want) {
				t.Fatalf("events = %q, want %q", got, tc.want)
			}
			for i, e := range out.Events {
				if e.Version != before+domain.Version(i+1) || e.TenantID != id {
					t.Errorf("event %d: version %d of %s, want version %d of %s", i, e.Version, e.TenantID, before+domain.Version(i+1), id)
				}
				if e.Metadata.Actor != asUser.Metadata.Actor || e.Metadata.RequestID != asUser.Metadata.RequestID {
					t.Errorf("event %d: metadata %+v does not carry the write's", i, e.Metadata)
				}
			}
			want := before + domain.Version(len(tc.want))
			if out.State.Version != want {
				t.Errorf("outcome version = %d, want %d", out.State.Version, want)
			}
			if got := h.store.State(id).Version; got != want {
				t.Errorf("read model version = %d, want %d", got, want)
			}
			if appends := h.sb.Calls("store.append"); len(appends) != 1 {
				t.Errorf("appends = %q, want exactly one", appends)
			}
		})
	}
}

// A command that changes nothing records nothing and keeps the version.
func TestCommandsThatChangeNothingRecordNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  run
	}{
		{"update to the same name", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
			return h.svc.Update(ctx, id, domain.UpdateTenant{Name: new("acme")}, w)
		}},
		{"reactivate an active tenant", command("Reactivate")},
		{"link a linked number again", func(ctx context.Context, h *harness, id domain.TenantID, w domain.Write) (domain.Outcome, error) {
			return h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "phone-acme", DisplayPhoneNumber: "+49 30 1234"}, nil, w)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.full(t, "acme")
			before := h.store.State(id).Version
			h.sb.Reset()
			out, err := tc.run(t.Context(), h, id, asAdmin)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Events) != 0 || out.State.Version != before || len(h.sb.Calls("store.append")) != 0 {
				t.Fatalf("outcome = %q at version %d, appends %q; want nothing at version %d",
					typesOf(out.Events), out.State.Version, h.sb.Calls("store.append"), before)
			}
		})
	}
}

// The errors every command meets reach the caller as *domain.Error of the
// kind the HTTP layer maps (404, 422, 412, 503), and nothing is recorded.
func TestCommandErrors(t *testing.T) {
	situations := []struct {
		name string
		// prepare returns the tenant and write to run the command with.
		prepare func(t *testing.T, h *harness) (domain.TenantID, domain.Write)
		kind    domain.Kind
		code    string
	}{
		{"unknown tenant", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			return domain.NewTenantID(), asAdmin
		}, domain.KindNotFound, "tenant-not-found"},
		{"unknown tenant with If-Match", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			return domain.NewTenantID(), ifMatch(asAdmin, 1)
		}, domain.KindNotFound, "tenant-not-found"},
		{"deleted tenant", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			id := h.full(t, "acme")
			if _, err := h.svc.Delete(t.Context(), id, "", asAdmin); err != nil {
				t.Fatal(err)
			}
			return id, asAdmin
		}, domain.KindRefused, "tenant-deleted"},
		{"stale If-Match", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			id := h.full(t, "acme")
			return id, ifMatch(asAdmin, h.store.State(id).Version-1)
		}, domain.KindPrecondition, "version-mismatch"},
		{"If-Match of a future version", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			id := h.full(t, "acme")
			return id, ifMatch(asAdmin, h.store.State(id).Version+1)
		}, domain.KindPrecondition, "version-mismatch"},
		{"store down", func(t *testing.T, h *harness) (domain.TenantID, domain.Write) {
			id := h.full(t, "acme")
			h.sb.Fail("store.Execute", errDown)
			return id, asAdmin
		}, domain.KindUnavailable, "dependency-unavailable"},
	}
	for _, c := range commands {
		for _, s := range situations {
			t.Run(c.name+"/"+s.name, func(t *testing.T) {
				h := newHarness(t)
				id, w := s.prepare(t, h)
				before := h.store.Events(id)
				h.sb.Reset()
				out, err := c.run(t.Context(), h, id, w)
				wantError(t, err, s.kind, s.code)
				if len(out.Events) != 0 || len(h.sb.Calls("store.append")) != 0 || len(h.store.Events(id)) != len(before) {
					t.Fatalf("a refused %s recorded %q", c.name, typesOf(out.Events))
				}
				if s.kind != domain.KindPrecondition && s.kind != domain.KindUnavailable {
					// Refused before anything was sealed or Meta was asked.
					if calls := append(h.sb.Calls("vault."), h.sb.Calls("graph.")...); len(calls) != 0 {
						t.Fatalf("a command on a %s called %q", s.name, calls)
					}
				}
			})
		}
	}
}

// A stale If-Match is checked before the command decides: Embedded Signup
// with one does not call Meta, whose codes are single-use.
func TestStaleIfMatchStopsSignupBeforeMeta(t *testing.T) {
	h := newHarness(t)
	id := h.create(t, "acme")
	h.sb.Reset()
	_, err := command("CompleteSignup")(t.Context(), h, id, ifMatch(asAdmin, 7))
	wantError(t, err, domain.KindPrecondition, "version-mismatch")
	if calls := h.sb.Calls("graph."); len(calls) != 0 {
		t.Fatalf("Graph was called: %q", calls)
	}
}

// Invalid input is invalid-request naming each bad field; commands whose
// input is checked before the tenant is loaded reach no port, and no
// command seals anything.
func TestInvalidInput(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name      string
		run       func(h *harness, id domain.TenantID) error
		fields    []string
		portsFree bool // refused before any port is asked
	}{
		{"create without a name", func(h *harness, _ domain.TenantID) error {
			_, err := h.svc.Create(ctx, domain.CreateTenant{Name: " "}, asAdmin)
			return err
		}, []string{"name"}, false},
		{"create with a bad rate limit", func(h *harness, _ domain.TenantID) error {
			_, err := h.svc.Create(ctx, domain.CreateTenant{Name: "x", Settings: domain.Settings{RateLimit: &domain.RateLimit{}}}, asAdmin)
			return err
		}, []string{"settings.rateLimit.perSecond", "settings.rateLimit.burst"}, false},
		{"create with If-Match", func(h *harness, _ domain.TenantID) error {
			_, err := h.svc.Create(ctx, domain.CreateTenant{Name: "x"}, ifMatch(asAdmin, 1))
			return err
		}, []string{"If-Match"}, true},
		{"update to a name with a control character", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.Update(ctx, id, domain.UpdateTenant{Name: new("a\x00b")}, asAdmin)
			return err
		}, []string{"name"}, false},
		{"suspend with a NUL in the reason", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.Suspend(ctx, id, "bad\x00reason", asAdmin)
			return err
		}, []string{"reason"}, false},
		{"reactivate an active tenant with a bad reason", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.Reactivate(ctx, id, "\x07", asAdmin)
			return err
		}, []string{"reason"}, false},
		{"delete with an overlong reason", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.Delete(ctx, id, strings.Repeat("x", domain.MaxReasonLen+1), asAdmin)
			return err
		}, []string{"reason"}, false},
		{"Genesys credentials", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.SetGenesysCredentials(ctx, id, "has space", " padded-secret", "example.com", asAdmin)
			return err
		}, []string{"clientId", "clientSecret", "region"}, true},
		{"Genesys credentials without a secret", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.SetGenesysCredentials(ctx, id, "client", "", "mypurecloud.de", asAdmin)
			return err
		}, []string{"clientSecret"}, true},
		{"Genesys integration", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.LinkGenesysIntegration(ctx, id, "a/b", "\tsecret", asAdmin)
			return err
		}, []string{"integrationId", "webhookSecret"}, true},
		{"WhatsApp link without ids", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{}, nil, asAdmin)
			return err
		}, []string{"wabaId", "phoneNumberId"}, true},
		{"WhatsApp link with an empty token", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "1"}, new(""), asAdmin)
			return err
		}, []string{"accessToken"}, true},
		{"signup with every field wrong", func(h *harness, _ domain.TenantID) error {
			_, err := h.svc.CompleteSignup(ctx, tenants.Signup{TenantID: "not-a-uuid", Code: "", WABAID: "waba",
				PhoneNumberID: "+4930", BusinessID: "biz"}, asAdmin)
			return err
		}, []string{"tenantId", "code", "wabaId", "phoneNumberId", "businessId"}, true},
		{"signup code with a space", func(h *harness, id domain.TenantID) error {
			_, err := h.svc.CompleteSignup(ctx, tenants.Signup{TenantID: string(id), Code: "a b", WABAID: wabaID}, asAdmin)
			return err
		}, []string{"code"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.full(t, "acme")
			before := h.store.State(id).Version
			h.sb.Reset()
			wantFields(t, tc.run(h, id), tc.fields...)
			if tc.portsFree {
				if calls := h.sb.Calls(""); len(calls) != 0 {
					t.Fatalf("invalid input reached %q", calls)
				}
			}
			if calls := append(h.sb.Calls("vault."), h.sb.Calls("store.append")...); len(calls) != 0 {
				t.Fatalf("invalid input reached %q", calls)
			}
			if got := h.store.State(id).Version; got != before {
				t.Fatalf("version = %d, want %d", got, before)
			}
		})
	}
}

// A phone number or integration id another live tenant holds is a 409; the
// detail names the owner to admins only (the claimConflict path).
func TestClaimHeldByAnotherTenant(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		run        func(ctx context.Context, h *harness, other domain.TenantID, w domain.Write) error
	}{
		{"phone number linked by hand", "phone-number-taken", func(ctx context.Context, h *harness, other domain.TenantID, w domain.Write) error {
			_, err := h.svc.LinkWhatsApp(ctx, other, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "phone-owner"}, nil, w)
			return err
		}},
		{"phone number of a signup", "phone-number-taken", func(ctx context.Context, h *harness, other domain.TenantID, w domain.Write) error {
			h.graph.Numbers[0].ID = "phone-owner"
			_, err := h.svc.CompleteSignup(ctx, tenants.Signup{TenantID: string(other), Code: "code-of-other", WABAID: wabaID}, w)
			return err
		}},
		{"integration id", "integration-taken", func(ctx context.Context, h *harness, other domain.TenantID, w domain.Write) error {
			_, err := h.svc.LinkGenesysIntegration(ctx, other, "integration-owner", "", w)
			return err
		}},
	} {
		for _, admin := range []bool{true, false} {
			w := asUser
			if admin {
				w = asAdmin
			}
			t.Run(tc.name+"/"+w.Metadata.ActorRole, func(t *testing.T) {
				h := newHarness(t)
				owner := h.full(t, "owner")
				other := h.create(t, "other")
				err := tc.run(t.Context(), h, other, w)
				de := wantError(t, err, domain.KindConflict, tc.code)
				if named := strings.Contains(de.Detail, string(owner)); named != admin {
					t.Fatalf("detail %q names the owner: %v, want %v for role %q", de.Detail, named, admin, w.Metadata.ActorRole)
				}
				if got := h.store.State(other).Version; got != 1 {
					t.Fatalf("the other tenant is at version %d, want 1: nothing recorded", got)
				}
			})
		}
	}
}

// A port that is down reaches the caller as its own error kind (503), not
// as another kind the Service made up, and stops the use case before the
// ports after it.
func TestDependencyDown(t *testing.T) {
	for _, tc := range []struct {
		name, port string
		run        func(ctx context.Context, h *harness, id domain.TenantID) error
		notCalled  []string
	}{
		{"store on a command", "store.Execute", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.Suspend(ctx, id, "", asAdmin)
			return err
		}, nil},
		{"read model before sealing", "tenants.Get", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.SetGenesysCredentials(ctx, id, "client", clientSecret, "mypurecloud.de", asAdmin)
			return err
		}, []string{"vault.", "store."}},
		{"vault sealing Genesys credentials", "vault.SealRef", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.SetGenesysCredentials(ctx, id, "client", clientSecret, "mypurecloud.de", asAdmin)
			return err
		}, []string{"store.", "tokens."}},
		{"vault sealing a webhook secret", "vault.SealRef", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.LinkGenesysIntegration(ctx, id, "integration-2", webhookSecret, asAdmin)
			return err
		}, []string{"store."}},
		{"vault sealing a WhatsApp token", "vault.SealRef", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "1"}, new(whatsAppToken), asAdmin)
			return err
		}, []string{"store."}},
		{"vault sealing a signup token", "vault.SealRef", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := command("CompleteSignup")(ctx, h, id, asAdmin)
			return err
		}, []string{"store.append"}},
		{"vault checking the data key", "vault.Live", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysSecrets(ctx, id)
			return err
		}, []string{"vault.OpenRef"}},
		{"vault opening a secret", "vault.OpenRef", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.WhatsAppToken(ctx, id, 0)
			return err
		}, nil},
		{"resolver on a token", "resolver.WhatsAppToken", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.WhatsAppToken(ctx, id, 0)
			return err
		}, []string{"vault.", "limiter."}},
		{"resolver on a lookup", "resolver.ByPhoneNumber", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.ResolvePhone(ctx, "phone-acme", 0)
			return err
		}, nil},
		{"history", "history.ReadStreamPage", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.Events(ctx, id, 0, 10, domain.EventFilter{})
			return err
		}, nil},
		{"time travel", "store.StateAt", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.TenantAt(ctx, id, 1, time.Time{})
			return err
		}, nil},
		{"Genesys token cache (not Genesys itself)", "tokens.Token", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysToken(ctx, id)
			return err
		}, []string{"tokens.Invalidate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.full(t, "acme")
			h.sb.Reset()
			h.sb.Fail(tc.port, errDown)
			de := wantError(t, tc.run(t.Context(), h, id), domain.KindUnavailable, "dependency-unavailable")
			if de != errDown {
				t.Fatalf("error = %v, want the port's own error passed on", de)
			}
			for _, p := range tc.notCalled {
				if calls := h.sb.Calls(p); len(calls) != 0 {
					t.Fatalf("with %s down, %q were called", tc.port, calls)
				}
			}
		})
	}
}

// An unexpected failure of a port is passed on unchanged: not a domain
// error, so the HTTP layer answers it as an internal one without details.
func TestUnexpectedErrorsStayInternal(t *testing.T) {
	h := newHarness(t)
	id := h.full(t, "acme")
	boom := errors.New("disk on fire")
	h.sb.Fail("store.Execute", boom)
	_, err := h.svc.Update(t.Context(), id, domain.UpdateTenant{Name: new("x")}, asAdmin)
	if !errors.Is(err, boom) || domain.KindOf(err) != domain.KindInternal {
		t.Fatalf("error = %v (kind %d), want the store's own error, internal", err, domain.KindOf(err))
	}
}

// Without If-Match a command that loses the race to another writer is
// decided again on the reloaded tenant. A decision has no side effects that
// repeat: every command still appends once and seals at most once, and
// Embedded Signup asks Meta once (its code is single-use).
func TestCommandsDecideAgainAfterALostRace(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.full(t, "acme")
			h.store.lostRaces = 2
			h.sb.Reset()
			if _, err := c.run(t.Context(), h, id, asAdmin); err != nil {
				t.Fatal(err)
			}
			want := 1
			if c.name == "Reactivate" {
				want = 0 // the tenant is active: nothing to record
			}
			if got := h.sb.Calls("store.append"); len(got) != want {
				t.Fatalf("appends %q, want %d", got, want)
			}
			if got := h.sb.Calls("vault.SealRef"); len(got) > 1 {
				t.Fatalf("sealed %q, want at most once", got)
			}
			if got := h.sb.Calls("graph.ExchangeCode"); len(got) > 1 {
				t.Fatalf("exchanged the code %d times, want at most once", len(got))
			}
		})
	}
}
