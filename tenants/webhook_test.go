package tenants_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"tenant-service/domain"
	"tenant-service/metagraph"
	"tenant-service/tenants"
)

// Webhook bodies in the shape Meta sends them (see metagraph/testdata).

// notification is a whatsapp_business_account delivery of the entries.
func notification(entries ...string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[` + strings.Join(entries, ",") + `]}`)
}

// entry is the changes of one WABA.
func entry(waba string, changes ...string) string {
	return fmt.Sprintf(`{"id":%q,"time":1743451903,"changes":[%s]}`, waba, strings.Join(changes, ","))
}

const (
	// banChange is an account_update of the whole WABA: no number named.
	banChange = `{"field":"account_update","value":{"event":"DISABLED_UPDATE",` +
		`"ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"April 17, 2025"}}}`
	// messageChange is no account change and is ignored.
	messageChange = `{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"15550001","phone_number_id":"phone-a"},"messages":[{"id":"wamid.1"}]}}`
)

// qualityChange is a phone_number_quality_update naming the number.
func qualityChange(phone string) string {
	return fmt.Sprintf(`{"field":"phone_number_quality_update","value":{"display_phone_number":"+49 30 1234",`+
		`"event":"FLAGGED","current_limit":"TIER_1K","metadata":{"display_phone_number":"+49 30 1234","phone_number_id":%q}}}`, phone)
}

// nameChange is a phone_number_name_update for the whole WABA; the name is
// JSON-escaped as Meta does, control characters included.
func nameChange(decision, name string) string {
	quoted, err := json.Marshal(name)
	if err != nil {
		panic(err) // a string always marshals
	}
	return fmt.Sprintf(`{"field":"phone_number_name_update","value":{"display_phone_number":"+49 30 1234",`+
		`"decision":%q,"requested_verified_name":%s}}`, decision, quoted)
}

func TestVerifyWebhook(t *testing.T) {
	q := func(mode, token string) url.Values {
		return url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
	}
	h := newHarness(t)
	got, err := h.svc.VerifyWebhook(q("subscribe", verifyToken))
	if err != nil || got != "1158201444" {
		t.Fatalf("VerifyWebhook = %q, %v; want the challenge", got, err)
	}
	for name, query := range map[string]url.Values{
		"wrong token": q("subscribe", "guess"),
		"wrong mode":  q("unsubscribe", verifyToken),
		"no token":    q("subscribe", ""),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.VerifyWebhook(query)
			wantError(t, err, domain.KindForbidden, "webhook-verification-failed")
		})
	}
	unset := newHarness(t, func(_ *tenants.Deps, c *tenants.Config) { c.MetaWebhookVerifyToken = "" })
	_, err = unset.svc.VerifyWebhook(q("subscribe", ""))
	wantError(t, err, domain.KindForbidden, "webhook-verification-failed")
}

// webhookTenants makes two tenants holding numbers phone-a and phone-b of
// the same WABA.
func webhookTenants(t *testing.T, h *harness) (a, b domain.TenantID) {
	t.Helper()
	return h.full(t, "a"), h.full(t, "b")
}

// A delivery records each account change on the tenants it is about: a
// WABA change on every holder, a number change on its holder; messages and
// unknown WABAs are acknowledged and ignored. Events carry Meta's webhook
// as the actor and the request's ids.
func TestRecordWebhook(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	a, b := webhookTenants(t, h)
	before := map[domain.TenantID]int{a: len(h.store.Events(a)), b: len(h.store.Events(b))}
	body := notification(entry(wabaID, banChange, messageChange, qualityChange("phone-a")), entry("777", banChange))
	meta := domain.Metadata{Actor: "someone", ActorRole: tenants.RoleAdmin, RequestID: "req-hook", CorrelationID: "corr-1"}
	res, err := h.svc.RecordWebhook(ctx, body, metagraph.Sign(metaAppSecret, body), meta)
	if err != nil {
		t.Fatal(err)
	}
	if want := (tenants.WebhookResult{Recorded: 3, Ignored: 2}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	ban := domain.WhatsAppAccountUpdated{WABAID: wabaID, Field: "account_update", Event: "DISABLED_UPDATE", BanState: "DISABLE"}
	quality := domain.WhatsAppAccountUpdated{WABAID: wabaID, PhoneNumberID: "phone-a", Field: "phone_number_quality_update",
		Event: "FLAGGED", QualityRating: "RED", Status: "TIER_1K"}
	for id, want := range map[domain.TenantID][]domain.WhatsAppAccountUpdated{a: {ban, quality}, b: {ban}} {
		recorded := h.store.Events(id)[before[id]:]
		if len(recorded) != len(want) {
			t.Fatalf("tenant %s: recorded %q, want %d updates", id, typesOf(recorded), len(want))
		}
		for i, e := range recorded {
			if got := decode[domain.WhatsAppAccountUpdated](t, e); got != want[i] {
				t.Errorf("tenant %s update %d = %+v, want %+v", id, i, got, want[i])
			}
			if m := e.Metadata; m.Actor != "meta:webhook" || m.ActorRole != "" || m.RequestID != "req-hook" || m.CorrelationID != "corr-1" {
				t.Errorf("metadata = %+v, want Meta's webhook as actor and the request's ids", m)
			}
		}
	}
	st := h.store.State(a)
	if p, _ := st.WhatsApp.Phone("phone-a"); st.WhatsApp.BanState != "DISABLE" || p.QualityRating != "RED" {
		t.Fatalf("state = ban %q, quality %q; want DISABLE, RED", st.WhatsApp.BanState, p.QualityRating)
	}

	// Meta retries a delivery it thinks failed: it is acknowledged the same
	// way and records nothing more.
	res, err = h.svc.RecordWebhook(ctx, body, metagraph.Sign(metaAppSecret, body), meta)
	if err != nil || res != (tenants.WebhookResult{Recorded: 3, Ignored: 2}) {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if n := len(h.store.Events(a)) - before[a]; n != 2 {
		t.Fatalf("after the retry tenant a has %d updates, want 2", n)
	}
}

// A change of a number no tenant holds, or with values no event could
// store, is acknowledged and ignored: refusing it would make Meta retry
// forever.
func TestRecordWebhookIgnores(t *testing.T) {
	for name, body := range map[string][]byte{
		"number nobody holds":       notification(entry(wabaID, qualityChange("5550404"))),
		"WABA nobody holds":         notification(entry("777", banChange)),
		"WABA id no event stores":   notification(entry("bad id", banChange)),
		"name with a control char":  notification(entry(wabaID, nameChange("APPROVED", "Acme\u0007"))),
		"overlong display name":     notification(entry(wabaID, nameChange("APPROVED", strings.Repeat("n", 201)))),
		"messages only":             notification(entry(wabaID, messageChange)),
		"unknown field":             notification(entry(wabaID, `{"field":"security","value":{}}`)),
		"number id no event stores": notification(entry(wabaID, qualityChange("a/b"))),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			a, _ := webhookTenants(t, h)
			before := len(h.store.Events(a))
			res, err := h.svc.RecordWebhook(t.Context(), body, metagraph.Sign(metaAppSecret, body), domain.Metadata{})
			if err != nil || res != (tenants.WebhookResult{Ignored: 1}) {
				t.Fatalf("RecordWebhook = %+v, %v; want one ignored change", res, err)
			}
			if got := len(h.store.Events(a)); got != before {
				t.Fatalf("recorded %d events", got-before)
			}
		})
	}
}

// An approved name is recorded as the account's display name.
func TestRecordWebhookApprovedName(t *testing.T) {
	h := newHarness(t)
	a, b := webhookTenants(t, h)
	body := notification(entry(wabaID, nameChange("APPROVED", "Acme GmbH")))
	res, err := h.svc.RecordWebhook(t.Context(), body, metagraph.Sign(metaAppSecret, body), domain.Metadata{})
	if err != nil || res.Recorded != 2 {
		t.Fatalf("RecordWebhook = %+v, %v; want recorded on both holders", res, err)
	}
	for _, id := range []domain.TenantID{a, b} {
		if st := h.store.State(id); st.WhatsApp.AccountName != "Acme GmbH" || st.WhatsApp.LastEvent != "APPROVED" {
			t.Fatalf("tenant %s: account name %q, last event %q", id, st.WhatsApp.AccountName, st.WhatsApp.LastEvent)
		}
	}
}

// The signature is checked over the raw bytes before anything is parsed or
// looked up; without the app secret webhooks are unavailable.
func TestRecordWebhookRefusals(t *testing.T) {
	body := notification(entry(wabaID, banChange))
	for _, tc := range []struct {
		name      string
		adjust    func(*tenants.Deps, *tenants.Config)
		body      []byte
		signature string
		kind      domain.Kind
		code      string
	}{
		{"no app secret", func(_ *tenants.Deps, c *tenants.Config) { c.MetaAppSecret = "" }, body, metagraph.Sign("", body),
			domain.KindUnavailable, "meta-not-configured"},
		{"no signature", nil, body, "", domain.KindUnauthorized, "bad-signature"},
		{"signed with another secret", nil, body, metagraph.Sign("guess", body), domain.KindUnauthorized, "bad-signature"},
		{"signature of another body", nil, body, metagraph.Sign(metaAppSecret, notification()), domain.KindUnauthorized, "bad-signature"},
		{"body changed after signing", nil, append(slices.Clone(body[:len(body)-1]), ' ', '}'), metagraph.Sign(metaAppSecret, body),
			domain.KindUnauthorized, "bad-signature"},
		{"not JSON", nil, []byte("not json"), metagraph.Sign(metaAppSecret, []byte("not json")), domain.KindInvalid, "invalid-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var adjust []func(*tenants.Deps, *tenants.Config)
			if tc.adjust != nil {
				adjust = append(adjust, tc.adjust)
			}
			h := newHarness(t, adjust...)
			webhookTenants(t, h)
			h.sb.Reset()
			_, err := h.svc.RecordWebhook(t.Context(), tc.body, tc.signature, domain.Metadata{})
			wantError(t, err, tc.kind, tc.code)
			if calls := h.sb.Calls(""); len(calls) != 0 {
				t.Fatalf("a refused delivery called %q", calls)
			}
		})
	}
}

// Deliveries for other objects (pages, Instagram) are acknowledged without
// a lookup.
func TestRecordWebhookOtherObject(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}`)
	res, err := h.svc.RecordWebhook(t.Context(), body, metagraph.Sign(metaAppSecret, body), domain.Metadata{})
	if err != nil || res != (tenants.WebhookResult{}) || len(h.sb.Calls("")) != 0 {
		t.Fatalf("RecordWebhook = %+v, %v, calls %q; want nothing done", res, err, h.sb.Calls(""))
	}
}

// A dependency down fails the delivery, so Meta retries it; the retry
// records only what the failed attempt did not.
func TestRecordWebhookRetriedAfterAFailure(t *testing.T) {
	for port, recordedFirst := range map[string]int{
		"tenants.OwnerOfPhone": 1, // the WABA's ban was recorded before the number's change failed
		"store.Execute":        0,
	} {
		t.Run(port, func(t *testing.T) {
			h := newHarness(t)
			a, b := webhookTenants(t, h)
			before := len(h.store.Events(a))
			body := notification(entry(wabaID, banChange), entry(wabaID, qualityChange("phone-a")))
			sig := metagraph.Sign(metaAppSecret, body)
			h.sb.Fail(port, errDown)
			_, err := h.svc.RecordWebhook(t.Context(), body, sig, domain.Metadata{})
			wantError(t, err, domain.KindUnavailable, "dependency-unavailable")
			if got := len(h.store.Events(a)) - before; got != recordedFirst {
				t.Fatalf("the failed delivery recorded %d events on tenant a, want %d", got, recordedFirst)
			}
			h.sb.Fail(port, nil)
			res, err := h.svc.RecordWebhook(t.Context(), body, sig, domain.Metadata{})
			if err != nil || res != (tenants.WebhookResult{Recorded: 3}) {
				t.Fatalf("retry = %+v, %v; want the 3 changes recorded", res, err)
			}
			if got := typesOf(h.store.Events(a)[before:]); len(got) != 2 {
				t.Fatalf("tenant a recorded %q, want the ban and the quality change once each", got)
			}
			if got := h.store.State(b).WhatsApp.BanState; got != "DISABLE" {
				t.Fatalf("tenant b ban state %q", got)
			}
		})
	}
}

// Holders of the WABA being unreadable fails the delivery too.
func TestRecordWebhookHoldersDown(t *testing.T) {
	h := newHarness(t)
	webhookTenants(t, h)
	h.sb.Fail("tenants.HoldersOfWABA", errDown)
	body := notification(entry(wabaID, banChange))
	_, err := h.svc.RecordWebhook(t.Context(), body, metagraph.Sign(metaAppSecret, body), domain.Metadata{})
	wantError(t, err, domain.KindUnavailable, "dependency-unavailable")
}
