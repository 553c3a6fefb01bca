package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/metagraph"
	"tenant-service/tenants"
)

// A link by hand is recorded as manual whatever the caller says, with its
// token in the same append.
func TestLinkWhatsApp(t *testing.T) {
	h := newHarness(t)
	id := h.create(t, "acme")
	out, err := h.svc.LinkWhatsApp(t.Context(), id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "5550001",
		DisplayPhoneNumber: "+49 30 5550001", VerifiedName: "Acme", BusinessID: "777", Source: "embedded_signup"}, new(whatsAppToken), asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	link := decode[domain.WABALinked](t, out.Events[0])
	want := domain.WABALinked{WABAID: wabaID, PhoneNumberID: "5550001", DisplayPhoneNumber: "+49 30 5550001",
		VerifiedName: "Acme", BusinessID: "777", Source: "manual"}
	if link != want {
		t.Fatalf("WABALinked = %+v, want %+v", link, want)
	}
	if tok := decode[domain.WhatsAppTokenStored](t, out.Events[1]); tok.Source != "manual" || tok.ExpiresAt != nil {
		t.Fatalf("WhatsAppTokenStored = %+v, want a manual token without expiry", tok)
	}
}

// A tenant's numbers belong to one WABA: a number of another is refused,
// and its token is not stored either.
func TestLinkWhatsAppOfAnotherWABA(t *testing.T) {
	h := newHarness(t)
	id := h.full(t, "acme")
	before := h.store.State(id).Version
	_, err := h.svc.LinkWhatsApp(t.Context(), id, domain.WABALinked{WABAID: "999", PhoneNumberID: "5550009"}, new(whatsAppToken), asAdmin)
	wantError(t, err, domain.KindRefused, "waba-mismatch")
	if got := h.store.State(id).Version; got != before {
		t.Fatalf("version = %d, want %d", got, before)
	}
}

func TestUnlinkWhatsAppOfANumberNotLinked(t *testing.T) {
	h := newHarness(t)
	id := h.full(t, "acme")
	_, err := h.svc.UnlinkWhatsApp(t.Context(), id, "5550404", asAdmin)
	wantError(t, err, domain.KindNotFound, "phone-number-not-linked")
}

func TestWhatsAppToken(t *testing.T) {
	h := newHarness(t)
	id := h.full(t, "acme")
	st := h.store.State(id)
	h.sb.Reset()
	got, err := h.svc.WhatsAppToken(t.Context(), id, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := tenants.WhatsAppToken{TenantID: id, AccessToken: whatsAppToken, WABAID: wabaID, StoredAt: st.WhatsApp.Token.StoredAt,
		Status: domain.StatusActive}
	if got != want {
		t.Fatalf("WhatsAppToken = %+v, want %+v", got, want)
	}
	if mins := h.resolver.Mins(); !slices.Equal(mins, []domain.Position{42}) {
		t.Fatalf("resolver asked with min %v, want [42]", mins)
	}
	if live, opened := h.sb.Index("vault.Live"), h.sb.Index("vault.OpenRef"); live < 0 || live > opened {
		t.Fatalf("calls %q: want the data key checked in the vault before the token is opened", h.sb.Calls(""))
	}
}

// The token route never hands out a deleted tenant's token, whatever the
// resolver (Redis) answers: the vault says the key is destroyed.
func TestWhatsAppTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, h *harness) domain.TenantID
		kind    domain.Kind
		code    string
	}{
		{"no token", func(t *testing.T, h *harness) domain.TenantID { return h.create(t, "acme") },
			domain.KindNotFound, "whatsapp-token-not-set"},
		{"number linked without a token", func(t *testing.T, h *harness) domain.TenantID {
			id := h.create(t, "acme")
			if _, err := h.svc.LinkWhatsApp(t.Context(), id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "1"}, nil, asAdmin); err != nil {
				t.Fatal(err)
			}
			return id
		}, domain.KindNotFound, "whatsapp-token-not-set"},
		{"unknown tenant", func(t *testing.T, h *harness) domain.TenantID { return domain.NewTenantID() },
			domain.KindNotFound, "tenant-not-found"},
		{"deleted tenant", func(t *testing.T, h *harness) domain.TenantID {
			id := h.full(t, "acme")
			if _, err := h.svc.Delete(t.Context(), id, "", asAdmin); err != nil {
				t.Fatal(err)
			}
			return id
		}, domain.KindRefused, "secrets-shredded"},
		{"deleted tenant, but the cache still holds its live token", func(t *testing.T, h *harness) domain.TenantID {
			id := h.full(t, "acme")
			h.resolver.Stale(h.store.State(id))
			if _, err := h.svc.Delete(t.Context(), id, "", asAdmin); err != nil {
				t.Fatal(err)
			}
			return id
		}, domain.KindRefused, "secrets-shredded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := tc.prepare(t, h)
			h.sb.Reset()
			_, err := h.svc.WhatsAppToken(t.Context(), id, 0)
			wantError(t, err, tc.kind, tc.code)
			if calls := h.sb.Calls("vault.OpenRef"); len(calls) != 0 {
				t.Fatalf("a refused token request opened %q", calls)
			}
		})
	}
}

func TestCompleteSignup(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.create(t, "acme")
	h.sb.Reset()
	out, err := h.svc.CompleteSignup(ctx, tenants.Signup{TenantID: strings.ToUpper(string(id)), Code: "AQBx-signup-code",
		WABAID: wabaID, BusinessID: "777"}, asUser)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"graph.ExchangeCode AQBx-signup-code",
		"graph.DebugToken " + businessToken,
		"graph.SubscribeApp " + wabaID + " " + businessToken,
		"graph.PhoneNumbers " + wabaID + " " + businessToken,
	}
	if got := h.sb.Calls("graph."); !slices.Equal(got, wantCalls) {
		t.Fatalf("Graph calls = %q, want %q", got, wantCalls)
	}
	if got := typesOf(out.Events); !slices.Equal(got, []string{domain.EventWABALinked, domain.EventWABALinked, domain.EventWhatsAppTokenStored}) {
		t.Fatalf("events = %q", got)
	}
	for i, n := range h.graph.Numbers {
		want := domain.WABALinked{WABAID: wabaID, PhoneNumberID: n.ID, DisplayPhoneNumber: n.DisplayPhoneNumber,
			VerifiedName: n.VerifiedName, BusinessID: "777", Source: "embedded_signup"}
		if got := decode[domain.WABALinked](t, out.Events[i]); got != want {
			t.Errorf("link %d = %+v, want %+v", i, got, want)
		}
	}
	tok := decode[domain.WhatsAppTokenStored](t, out.Events[2])
	if tok.Source != "embedded_signup" || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(h.graph.Info.ExpiresAt) {
		t.Fatalf("WhatsAppTokenStored = %+v, want the signup's token expiring at %s", tok, h.graph.Info.ExpiresAt)
	}
	for _, e := range out.Events {
		if e.TenantID != id || e.Metadata.Actor != asUser.Metadata.Actor || !strings.HasPrefix(e.Metadata.IdempotencyKey, "signup:") {
			t.Fatalf("event %s of %s with metadata %+v: want the tenant's, the caller's actor and a signup key", e.Type, e.TenantID, e.Metadata)
		}
		if strings.Contains(e.Metadata.IdempotencyKey, "AQBx") {
			t.Fatalf("the idempotency key %q shows the code", e.Metadata.IdempotencyKey)
		}
	}
	if got, err := h.svc.WhatsAppToken(ctx, id, 0); err != nil || got.AccessToken != businessToken {
		t.Fatalf("WhatsAppToken after signup = %+v, %v", got, err)
	}
}

// A token that never expires (Meta sends 0) is stored without expiry; a
// chosen number links only that number.
func TestCompleteSignupOneNumberWithoutExpiry(t *testing.T) {
	h := newHarness(t)
	id := h.create(t, "acme")
	h.graph.Info.ExpiresAt = time.Time{} // debug_token said expires_at 0
	out, err := h.svc.CompleteSignup(t.Context(), tenants.Signup{TenantID: string(id), Code: "code", WABAID: wabaID,
		PhoneNumberID: "5550002"}, asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if got := typesOf(out.Events); !slices.Equal(got, []string{domain.EventWABALinked, domain.EventWhatsAppTokenStored}) {
		t.Fatalf("events = %q", got)
	}
	if link := decode[domain.WABALinked](t, out.Events[0]); link.PhoneNumberID != "5550002" {
		t.Fatalf("linked %s, want only the chosen 5550002", link.PhoneNumberID)
	}
	if tok := decode[domain.WhatsAppTokenStored](t, out.Events[1]); tok.ExpiresAt != nil {
		t.Fatalf("token expires at %s, want never", tok.ExpiresAt)
	}
}

// Meta's code is single-use: a retried callback with the same code answers
// the first result without calling Meta again; the same code for another
// request is refused by the idempotency scope.
func TestCompleteSignupRetried(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := h.create(t, "acme")
	in := tenants.Signup{TenantID: string(id), Code: "single-use-code", WABAID: wabaID}
	first, err := h.svc.CompleteSignup(ctx, in, asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.svc.CompleteSignup(ctx, in, asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.State.Version != first.State.Version || len(again.Events) != 0 {
		t.Fatalf("retry = duplicate %v at version %d with %d events; want the first result at version %d",
			again.Duplicate, again.State.Version, len(again.Events), first.State.Version)
	}
	if calls := h.sb.Calls("graph.ExchangeCode"); len(calls) != 1 {
		t.Fatalf("the code was exchanged %d times, want once", len(calls))
	}
	if len(h.vault.Seals()) != 1 {
		t.Fatalf("sealed %d tokens, want 1", len(h.vault.Seals()))
	}
	in.PhoneNumberID = "5550001"
	_, err = h.svc.CompleteSignup(ctx, in, asAdmin)
	wantError(t, err, domain.KindRefused, "idempotency-key-reused")
}

// What Meta refuses or fails becomes a 502 naming the step (with Meta's
// message, code and fbtrace_id), input Meta disowns a 400, and nothing is
// recorded; checks on the token stop before the app is subscribed and
// before anything is sealed.
func TestCompleteSignupRefusals(t *testing.T) {
	graphErr := func(step string) error {
		return &metagraph.Error{Step: step, HTTPStatus: 400, Code: 100, Subcode: 33, Type: "OAuthException",
			Message: "Unsupported request", FBTraceID: "AbCdEf"}
	}
	for _, tc := range []struct {
		name   string
		graph  func(h *harness)
		signup func(in *tenants.Signup)
		kind   domain.Kind
		code   string
		detail []string
		// reached is the last Graph call made; "" when none was.
		reached string
	}{
		{"code exchange refused", func(h *harness) { h.sb.Fail("graph.ExchangeCode", graphErr(metagraph.StepExchangeCode)) }, nil,
			domain.KindUpstream, "meta-graph-error", []string{"exchange-code", "Unsupported request (code 100", "fbtrace_id AbCdEf"}, "graph.ExchangeCode"},
		{"code exchange timed out", func(h *harness) {
			h.sb.Fail("graph.ExchangeCode", &metagraph.Error{Step: metagraph.StepExchangeCode, Err: context.DeadlineExceeded})
		}, nil, domain.KindUpstream, "meta-graph-error", []string{"exchange-code: no answer in time"}, "graph.ExchangeCode"},
		{"Meta unreachable", func(h *harness) {
			h.sb.Fail("graph.ExchangeCode", &metagraph.Error{Step: metagraph.StepExchangeCode, Err: errors.New("connection refused")})
		}, nil, domain.KindUpstream, "meta-graph-error", []string{"could not reach it"}, "graph.ExchangeCode"},
		{"argument Meta was never asked about", func(h *harness) {
			h.sb.Fail("graph.ExchangeCode", fmt.Errorf("exchange code: %w: empty code", metagraph.ErrInvalidArgument))
		}, nil, domain.KindInvalid, "invalid-request", nil, "graph.ExchangeCode"},
		{"debug_token failed", func(h *harness) { h.sb.Fail("graph.DebugToken", graphErr(metagraph.StepDebugToken)) }, nil,
			domain.KindUpstream, "meta-graph-error", []string{"debug-token"}, "graph.DebugToken"},
		{"token not valid", func(h *harness) { h.graph.Info.IsValid = false }, nil,
			domain.KindUpstream, "meta-token-invalid", nil, "graph.DebugToken"},
		{"token of another app", func(h *harness) { h.graph.Info.AppID = "999" }, nil,
			domain.KindUpstream, "meta-token-wrong-app", nil, "graph.DebugToken"},
		{"WABA not granted", nil, func(in *tenants.Signup) { in.WABAID = "424242" },
			domain.KindInvalid, "invalid-request", []string{"wabaId"}, "graph.DebugToken"},
		{"WABA granted for messaging only", func(h *harness) { h.graph.Info.GranularScopes = h.graph.Info.GranularScopes[1:] }, nil,
			domain.KindInvalid, "invalid-request", []string{"wabaId"}, "graph.DebugToken"},
		{"subscription failed", func(h *harness) { h.sb.Fail("graph.SubscribeApp", graphErr(metagraph.StepSubscribeApp)) }, nil,
			domain.KindUpstream, "meta-graph-error", []string{"subscribe-app"}, "graph.SubscribeApp"},
		{"phone numbers failed", func(h *harness) { h.sb.Fail("graph.PhoneNumbers", graphErr(metagraph.StepPhoneNumbers)) }, nil,
			domain.KindUpstream, "meta-graph-error", []string{"phone-numbers"}, "graph.PhoneNumbers"},
		{"WABA without numbers", func(h *harness) { h.graph.Numbers = nil }, nil,
			domain.KindRefused, "waba-has-no-phone-numbers", []string{wabaID}, "graph.PhoneNumbers"},
		{"chosen number not of the WABA", nil, func(in *tenants.Signup) { in.PhoneNumberID = "5550404" },
			domain.KindInvalid, "invalid-request", []string{"phoneNumberId"}, "graph.PhoneNumbers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.create(t, "acme")
			if tc.graph != nil {
				tc.graph(h)
			}
			in := tenants.Signup{TenantID: string(id), Code: "AQBx-signup-code", WABAID: wabaID}
			if tc.signup != nil {
				tc.signup(&in)
			}
			h.sb.Reset()
			_, err := h.svc.CompleteSignup(t.Context(), in, asAdmin)
			de := wantError(t, err, tc.kind, tc.code)
			for _, d := range tc.detail {
				if !strings.Contains(de.Detail, d) {
					t.Errorf("detail %q lacks %q", de.Detail, d)
				}
			}
			if strings.Contains(err.Error(), businessToken) || strings.Contains(err.Error(), "AQBx") {
				t.Errorf("error %q shows the token or the code", err)
			}
			if calls := h.sb.Calls("graph."); len(calls) == 0 || !strings.HasPrefix(calls[len(calls)-1], tc.reached) {
				t.Errorf("Graph calls %q, want the last to be %s", calls, tc.reached)
			}
			if calls := append(h.sb.Calls("vault."), h.sb.Calls("store.append")...); len(calls) != 0 {
				t.Errorf("a failed signup called %q", calls)
			}
			if got := h.store.State(id).Version; got != 1 {
				t.Errorf("version = %d, want 1", got)
			}
		})
	}
}

// A Graph failure keeps what Meta said for the client, and the cause.
func TestCompleteSignupGraphErrorDetails(t *testing.T) {
	h := newHarness(t)
	id := h.create(t, "acme")
	cause := &metagraph.Error{Step: metagraph.StepSubscribeApp, HTTPStatus: 403, Code: 200, Subcode: 2018, Type: "OAuthException",
		Message: "Permissions error", FBTraceID: "Trace1"}
	h.sb.Fail("graph.SubscribeApp", cause)
	_, err := h.svc.CompleteSignup(t.Context(), tenants.Signup{TenantID: string(id), Code: "c", WABAID: wabaID}, asAdmin)
	de := wantError(t, err, domain.KindUpstream, "meta-graph-error")
	if !errors.Is(err, cause) {
		t.Fatalf("the Graph error is lost from the chain: %v", err)
	}
	want := map[string]any{"service": "meta", "step": metagraph.StepSubscribeApp, "status": 403, "code": 200, "subcode": 2018,
		"type": "OAuthException", "message": "Permissions error", "fbtraceId": "Trace1"}
	if fmt.Sprint(de.Upstream) != fmt.Sprint(want) {
		t.Fatalf("upstream = %v, want %v", de.Upstream, want)
	}
}

// Without Meta's app configured or a Graph client, Embedded Signup is
// unavailable; bad input is still named first.
func TestCompleteSignupNotConfigured(t *testing.T) {
	for name, adjust := range map[string]func(*tenants.Deps, *tenants.Config){
		"no Graph client": func(d *tenants.Deps, _ *tenants.Config) { d.Graph = nil },
		"no Meta app id":  func(_ *tenants.Deps, c *tenants.Config) { c.MetaAppID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, adjust)
			id := h.create(t, "acme")
			_, err := h.svc.CompleteSignup(t.Context(), tenants.Signup{TenantID: string(id), Code: "c", WABAID: wabaID}, asAdmin)
			wantError(t, err, domain.KindUnavailable, "meta-not-configured")
			_, err = h.svc.CompleteSignup(t.Context(), tenants.Signup{TenantID: string(id), WABAID: wabaID}, asAdmin)
			wantFields(t, err, "code")
		})
	}
}
