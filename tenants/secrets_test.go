package tenants_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/internal/testkit"
	"tenant-service/tenants"
)

// Every use case that stores a secret seals it with the vault, for the
// tenant and field, before the append; the events and the state carry only
// the sealed reference (ciphertext and hint), never the plaintext.
func TestSecretsAreSealedBeforeTheAppend(t *testing.T) {
	for _, tc := range []struct {
		name, field, plaintext string
		run                    func(ctx context.Context, h *harness, id domain.TenantID) (domain.Outcome, error)
		ref                    func(domain.State) *domain.SecretRef
	}{
		{"Genesys client secret", domain.FieldGenesysClientSecret, clientSecret,
			func(ctx context.Context, h *harness, id domain.TenantID) (domain.Outcome, error) {
				return h.svc.SetGenesysCredentials(ctx, id, "client", clientSecret, "mypurecloud.de", asAdmin)
			}, func(st domain.State) *domain.SecretRef { return st.Genesys.ClientSecret }},
		{"Genesys webhook secret", domain.FieldGenesysWebhookSecret, webhookSecret,
			func(ctx context.Context, h *harness, id domain.TenantID) (domain.Outcome, error) {
				return h.svc.LinkGenesysIntegration(ctx, id, "integration", webhookSecret, asAdmin)
			}, func(st domain.State) *domain.SecretRef { return st.Genesys.WebhookSecret }},
		{"WhatsApp token linked by hand", domain.FieldWhatsAppAccessToken, whatsAppToken,
			func(ctx context.Context, h *harness, id domain.TenantID) (domain.Outcome, error) {
				return h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "1"}, new(whatsAppToken), asAdmin)
			}, func(st domain.State) *domain.SecretRef { return &st.WhatsApp.Token.Token }},
		{"business token of Embedded Signup", domain.FieldWhatsAppAccessToken, businessToken,
			func(ctx context.Context, h *harness, id domain.TenantID) (domain.Outcome, error) {
				return command("CompleteSignup")(ctx, h, id, asAdmin)
			}, func(st domain.State) *domain.SecretRef { return &st.WhatsApp.Token.Token }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			id := h.create(t, "acme")
			h.sb.Reset()
			out, err := tc.run(ctx, h, id)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := h.vault.Seals(), []sealed{{Tenant: id, Field: tc.field, Plaintext: tc.plaintext}}; !slices.Equal(got, want) {
				t.Fatalf("sealed %+v, want %+v", got, want)
			}
			if seal, appended := h.sb.Index("vault.SealRef"), h.sb.Index("store.append"); seal < 0 || appended < 0 || seal > appended {
				t.Fatalf("calls %q: want the seal before the append", h.sb.Calls(""))
			}
			ref := tc.ref(out.State)
			if ref == nil || ref.Hint != domain.SecretHint(tc.plaintext) {
				t.Fatalf("state's secret = %+v, want the sealed reference with hint %q", ref, domain.SecretHint(tc.plaintext))
			}
			if plain, err := h.vault.OpenRef(ctx, id, tc.field, *ref); err != nil || plain != tc.plaintext {
				t.Fatalf("the recorded reference opens to %q, %v; want the plaintext sealed for this tenant and field", plain, err)
			}
			state, err := json.Marshal(out.State)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(state, []byte(tc.plaintext)) {
				t.Fatalf("the state holds the plaintext: %s", state)
			}
			carried := false
			for _, e := range h.store.Events(id) {
				if bytes.Contains(e.Data, []byte(tc.plaintext)) || bytes.Contains(e.Data, []byte("PLAINTEXT")) {
					t.Fatalf("event %s holds a plaintext secret: %s", e.Type, e.Data)
				}
				carried = carried || bytes.Contains(e.Data, []byte(ref.Ciphertext))
			}
			if !carried {
				t.Fatalf("no event carries the ciphertext %q", ref.Ciphertext)
			}
		})
	}
}

// A Genesys integration without a webhook secret seals nothing.
func TestLinkGenesysIntegrationWithoutSecret(t *testing.T) {
	h := newHarness(t)
	id := h.create(t, "acme")
	out, err := h.svc.LinkGenesysIntegration(t.Context(), id, "integration-1", "", asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.vault.Seals()) != 0 || out.State.Genesys.WebhookSecret != nil || out.State.Genesys.IntegrationID != "integration-1" {
		t.Fatalf("sealed %+v, state %+v; want the integration without a secret", h.vault.Seals(), out.State.Genesys)
	}
}

// Setting Genesys credentials drops the token cached for the old ones, the
// first time and on every rotation.
func TestSetGenesysCredentialsDropsTheCachedToken(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.create(t, "acme")
	h.sb.Reset()
	for i := range 2 {
		if _, err := h.svc.SetGenesysCredentials(ctx, id, "client", clientSecret, "mypurecloud.de", asAdmin); err != nil {
			t.Fatal(err)
		}
		if got := h.tokens.Invalidated(); len(got) != i+1 || got[i] != string(id) {
			t.Fatalf("after set %d: invalidated %q", i+1, got)
		}
	}
	if drop, appended := h.sb.Index("tokens.Invalidate"), h.sb.Index("store.append"); drop < appended {
		t.Fatalf("calls %q: want the token dropped after the append", h.sb.Calls(""))
	}
	// A refused set keeps the cache: the credentials did not change.
	_, err := h.svc.SetGenesysCredentials(ctx, id, "client", clientSecret, "mypurecloud.de", ifMatch(asAdmin, 1))
	wantError(t, err, domain.KindPrecondition, "version-mismatch")
	if got := h.tokens.Invalidated(); len(got) != 2 {
		t.Fatalf("a refused set invalidated: %q", got)
	}
}

func TestGenesysSecrets(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	h.sb.Reset()
	got, err := h.svc.GenesysSecrets(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := tenants.GenesysSecrets{TenantID: id, ClientID: "client-acme", ClientSecret: clientSecret, Region: "mypurecloud.de",
		IntegrationID: "integration-acme", WebhookSecret: webhookSecret, Status: domain.StatusActive, Version: h.store.State(id).Version}
	if got != want {
		t.Fatalf("GenesysSecrets = %+v, want %+v", got, want)
	}
	if live, opened := h.sb.Index("vault.Live"), h.sb.Index("vault.OpenRef"); live < 0 || live > opened {
		t.Fatalf("calls %q: want the data key checked before a secret is opened", h.sb.Calls(""))
	}
}

// The refusals of the secret routes: the tenant has no credentials, is
// unknown, or is deleted (and its key destroyed). None opens a secret or
// asks Genesys for a token.
func TestSecretRoutesRefusals(t *testing.T) {
	routes := []struct {
		name string
		run  func(ctx context.Context, h *harness, id domain.TenantID) error
	}{
		{"GenesysSecrets", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysSecrets(ctx, id)
			return err
		}},
		{"GenesysToken", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysToken(ctx, id)
			return err
		}},
	}
	for _, route := range routes {
		for _, tc := range []struct {
			name    string
			prepare func(t *testing.T, h *harness) domain.TenantID
			want    error
		}{
			{"no credentials", func(t *testing.T, h *harness) domain.TenantID { return h.create(t, "acme") }, tenants.ErrNoCredentials},
			{"an integration but no credentials", func(t *testing.T, h *harness) domain.TenantID {
				id := h.create(t, "acme")
				if _, err := h.svc.LinkGenesysIntegration(t.Context(), id, "integration-1", webhookSecret, asAdmin); err != nil {
					t.Fatal(err)
				}
				return id
			}, tenants.ErrNoCredentials},
			{"unknown tenant", func(t *testing.T, h *harness) domain.TenantID { return domain.NewTenantID() }, domain.ErrTenantNotFound},
			{"deleted tenant", func(t *testing.T, h *harness) domain.TenantID {
				id := h.full(t, "acme")
				if _, err := h.svc.Delete(t.Context(), id, "", asAdmin); err != nil {
					t.Fatal(err)
				}
				return id
			}, tenants.ErrSecretsShredded},
			{"data key destroyed while the read model says live", func(t *testing.T, h *harness) domain.TenantID {
				id := h.full(t, "acme")
				h.vault.Destroy(id)
				return id
			}, tenants.ErrSecretsShredded},
		} {
			t.Run(route.name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t)
				id := tc.prepare(t, h)
				h.sb.Reset()
				err := route.run(t.Context(), h, id)
				if !errors.Is(err, tc.want) {
					t.Fatalf("error = %v, want %v", err, tc.want)
				}
				noSecretCalls(t, h, "a refused request")
			})
		}
	}
}

func TestGenesysToken(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	setAt := h.store.State(id).Genesys.CredentialsUpdatedAt
	h.clock.Advance(1500 * time.Millisecond)
	got, err := h.svc.GenesysToken(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := tenants.AccessToken{AccessToken: "genesys-access-token", TokenType: "bearer", ExpiresIn: 3599,
		ExpiresAt: h.clock.Now().UTC().Add(3599 * time.Second).Truncate(time.Second), Region: "mypurecloud.de"}
	if got != want {
		t.Fatalf("GenesysToken = %+v, want %+v", got, want)
	}
	asked := h.tokens.Asked()
	wantCreds := genesys.Credentials{TenantID: string(id), Region: "mypurecloud.de", ClientID: "client-acme",
		ClientSecret: clientSecret, Version: strconv.FormatInt(setAt.UnixNano(), 10)}
	if len(asked) != 1 || asked[0] != wantCreds {
		t.Fatalf("tokens asked with %+v, want %+v", asked, wantCreds)
	}

	// Rotated credentials are another cache key: the version changes.
	if _, err := h.svc.SetGenesysCredentials(ctx, id, "client-acme", "rotated-secret-0000", "mypurecloud.de", asAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.GenesysToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if asked = h.tokens.Asked(); asked[1].Version == asked[0].Version || asked[1].ClientSecret != "rotated-secret-0000" {
		t.Fatalf("after rotation tokens asked with %+v, want a new version and the new secret", asked[1])
	}
}

// Genesys' refusals and silences become 502s carrying Genesys' own words
// and never the secret; they do not drop the cached token (the provider
// keeps its own failure cache). Other failures keep their kind.
func TestGenesysTokenErrors(t *testing.T) {
	refused := &genesys.Error{HTTPStatus: 401, Code: "invalid_client", Description: "client not found", ContextID: "ctx-1"}
	silent := &genesys.Error{Description: "no answer", Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		name         string
		err          error
		kind         domain.Kind
		code         string
		detail       []string
		wantUpstream map[string]any
	}{
		{"refused", refused, domain.KindUpstream, "genesys-refused",
			[]string{"HTTP 401", "invalid_client", "client not found"},
			map[string]any{"service": "genesys", "status": 401, "error": "invalid_client", "description": "client not found", "contextId": "ctx-1"}},
		{"refused, wrapped", fmt.Errorf("fetch token: %w", refused), domain.KindUpstream, "genesys-refused",
			[]string{"HTTP 401", "invalid_client"}, nil},
		{"refused without a description", &genesys.Error{HTTPStatus: 400, Code: "invalid_request"}, domain.KindUpstream, "genesys-refused",
			[]string{"HTTP 400", "invalid_request"}, nil},
		{"no answer", silent, domain.KindUpstream, "genesys-unavailable", []string{"did not answer"},
			map[string]any{"service": "genesys", "status": 0, "error": "", "description": "no answer", "contextId": ""}},
		{"rate limited by the provider", &domain.Error{Kind: domain.KindRateLimited, Code: "rate-limited", RetryAfter: time.Second},
			domain.KindRateLimited, "rate-limited", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.full(t, "acme")
			h.sb.Reset()
			h.sb.Fail("tokens.Token", tc.err)
			_, err := h.svc.GenesysToken(t.Context(), id)
			de := wantError(t, err, tc.kind, tc.code)
			for _, d := range tc.detail {
				if !strings.Contains(de.Detail, d) {
					t.Errorf("detail %q lacks %q", de.Detail, d)
				}
			}
			if tc.wantUpstream != nil {
				up, ok := de.Upstream.(map[string]any)
				if !ok || fmt.Sprint(up) != fmt.Sprint(tc.wantUpstream) {
					t.Errorf("upstream = %#v, want %v", de.Upstream, tc.wantUpstream)
				}
			}
			var ge *genesys.Error
			if tc.kind == domain.KindUpstream && !errors.As(err, &ge) {
				t.Errorf("the Genesys error is lost from the chain: %v", err)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Errorf("error %q holds the client secret", err)
			}
			if calls := h.sb.Calls("tokens.Invalidate"); len(calls) != 0 {
				t.Errorf("a failed token request dropped the cache: %q", calls)
			}
		})
	}
}

// Without a token provider the use case is unavailable, before anything is
// read or opened.
func TestGenesysTokenWithoutProvider(t *testing.T) {
	h := newHarness(t, func(d *tenants.Deps, _ *tenants.Config) { d.Tokens = nil })
	id := h.full(t, "acme")
	h.sb.Reset()
	_, err := h.svc.GenesysToken(t.Context(), id)
	wantError(t, err, domain.KindUnavailable, "genesys-tokens-unavailable")
	if calls := h.sb.Calls("vault."); len(calls) != 0 {
		t.Fatalf("called %q", calls)
	}
}

// Delete drops the cached Genesys token after the append that destroyed the
// data key; from then on no secret of the tenant is handed out.
func TestDeleteDropsTheGenesysToken(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	before := len(h.tokens.Invalidated()) // setting the credentials dropped it too
	h.sb.Reset()
	if _, err := h.svc.Delete(ctx, id, "contract ended", asAdmin); err != nil {
		t.Fatal(err)
	}
	if got := h.tokens.Invalidated()[before:]; !slices.Equal(got, []string{string(id)}) {
		t.Fatalf("invalidated %q, want the tenant's token", got)
	}
	if drop, appended := h.sb.Index("tokens.Invalidate"), h.sb.Index("store.append"); drop < appended {
		t.Fatalf("calls %q: want the token dropped after the append", h.sb.Calls(""))
	}
	if err := h.vault.Live(ctx, id); !errors.Is(err, errShredded) {
		t.Fatalf("data key after Delete: %v, want destroyed", err)
	}
	_, err := h.svc.GenesysToken(ctx, id)
	wantError(t, err, domain.KindRefused, "secrets-shredded")

	// Deleting again is refused and drops nothing more.
	_, err = h.svc.Delete(ctx, id, "", asAdmin)
	wantError(t, err, domain.KindRefused, "tenant-deleted")
	if got := h.tokens.Invalidated()[before:]; len(got) != 1 {
		t.Fatalf("a refused delete invalidated again: %q", got)
	}
}

// A retried Delete (same idempotency scope) records nothing and drops
// nothing more.
func TestDeleteRetriedDropsOnce(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	before := len(h.tokens.Invalidated())
	w := asAdmin
	w.Idempotency = &domain.Idempotency{Scope: "admin|delete-1", RequestHash: []byte("delete")}
	for range 2 {
		if _, err := h.svc.Delete(ctx, id, "", w); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.tokens.Invalidated()[before:]; len(got) != 1 {
		t.Fatalf("invalidated %q, want once", got)
	}
}

// Dropping the token is best effort: its failure is logged, the delete
// still succeeds. Without a token provider there is nothing to drop.
func TestDeleteWhenTheTokenCannotBeDropped(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, func(_ *tenants.Deps, c *tenants.Config) { c.Log = testkit.LoggerTo(&logs) })
	id := h.full(t, "acme")
	h.sb.Fail("tokens.Invalidate", errDown)
	out, err := h.svc.Delete(t.Context(), id, "", asAdmin)
	if err != nil || out.State.Status != domain.StatusDeleted {
		t.Fatalf("Delete = %v, %v; want the tenant deleted", out.State.Status, err)
	}
	if !strings.Contains(logs.String(), "dropping a cached Genesys token failed") || !strings.Contains(logs.String(), string(id)) {
		t.Fatalf("log %q does not report the failed drop", logs.String())
	}

	h = newHarness(t, func(d *tenants.Deps, _ *tenants.Config) { d.Tokens = nil })
	id = h.full(t, "acme")
	if _, err := h.svc.Delete(t.Context(), id, "", asAdmin); err != nil {
		t.Fatalf("Delete without a token provider: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	bare := h.create(t, "bare")
	_, err := h.svc.Credentials(ctx, bare)
	if !errors.Is(err, tenants.ErrNoCredentials) {
		t.Fatalf("Credentials of a tenant without = %v, want ErrNoCredentials", err)
	}
	wantError(t, err, domain.KindNotFound, "genesys-credentials-not-set")
	_, err = h.svc.Credentials(ctx, domain.NewTenantID())
	wantError(t, err, domain.KindNotFound, "tenant-not-found")
	id := h.full(t, "acme")
	st, err := h.svc.Credentials(ctx, id)
	if err != nil || st.Genesys.ClientID != "client-acme" {
		t.Fatalf("Credentials = %+v, %v", st.Genesys, err)
	}
	if calls := h.sb.Calls("vault.OpenRef"); len(calls) != 0 {
		t.Fatalf("Credentials opened secrets: %q", calls)
	}
}

// The routes that hand out secrets consult the tenant's own rate limit
// before opening anything; a refusal is passed on with its Retry-After.
func TestSecretRoutesConsultTheLimiter(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, h *harness, id domain.TenantID) error
	}{
		{"GenesysSecrets", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysSecrets(ctx, id)
			return err
		}},
		{"GenesysToken", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.GenesysToken(ctx, id)
			return err
		}},
		{"WhatsAppToken", func(ctx context.Context, h *harness, id domain.TenantID) error {
			_, err := h.svc.WhatsAppToken(ctx, id, 0)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			id := h.full(t, "acme")
			if err := tc.run(ctx, h, id); err != nil {
				t.Fatal(err)
			}
			calls := h.limiter.Calls()
			if len(calls) != 1 || calls[0].ID != id || calls[0].Own == nil || *calls[0].Own != (domain.RateLimit{PerSecond: 5, Burst: 10}) {
				t.Fatalf("limiter asked %+v, want once about %s with its own limit 5/10", calls, id)
			}

			limited := &domain.Error{Kind: domain.KindRateLimited, Code: "rate-limited", Detail: "slow down", RetryAfter: 3 * time.Second}
			h.sb.Fail("limiter.CheckTenant", limited)
			h.sb.Reset()
			de := wantError(t, tc.run(ctx, h, id), domain.KindRateLimited, "rate-limited")
			if de.RetryAfter != 3*time.Second {
				t.Fatalf("RetryAfter = %s, want 3s", de.RetryAfter)
			}
			noSecretCalls(t, h, "a limited request")
		})
	}
}

// Commands and reads that hand out no secret are not rate limited per
// tenant here; without a Limiter the secret routes work unlimited.
func TestLimiterOnlyGuardsSecrets(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.full(t, "acme")
	if _, err := h.svc.Tenant(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Credentials(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ResolveTenant(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Suspend(ctx, id, "", asAdmin); err != nil {
		t.Fatal(err)
	}
	if calls := h.limiter.Calls(); len(calls) != 0 {
		t.Fatalf("limiter asked %+v", calls)
	}

	h = newHarness(t, func(d *tenants.Deps, _ *tenants.Config) { d.Limiter = nil })
	id = h.full(t, "acme")
	if _, err := h.svc.GenesysSecrets(ctx, id); err != nil {
		t.Fatalf("GenesysSecrets without a limiter: %v", err)
	}
}

// noSecretCalls fails the test when what was asked of h opened a secret or
// asked for a token.
func noSecretCalls(t *testing.T, h *harness, what string) {
	t.Helper()
	if calls := append(h.sb.Calls("vault.OpenRef"), h.sb.Calls("tokens.")...); len(calls) != 0 {
		t.Fatalf("%s called %q", what, calls)
	}
}
