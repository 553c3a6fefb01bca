package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tenant-service/client"
	"tenant-service/client/internal/servicetest"
)

func TestMain(m *testing.M) { servicetest.Main(m) }

// metaWebhook returns a webhook body as Meta sends it for one message to
// each phone number id.
func metaWebhook(phoneNumberIDs ...string) string {
	var changes []string
	for _, id := range phoneNumberIDs {
		changes = append(changes, fmt.Sprintf(`{"field":"messages","value":{"messaging_product":"whatsapp",
			"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},
			"contacts":[{"profile":{"name":"Ana"},"wa_id":"5511988887777"}],
			"messages":[{"from":"5511988887777","id":"wamid.X","timestamp":"1764300000","type":"text","text":{"body":"oi"}}]}}`, id))
	}
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[` + strings.Join(changes, ",") + `]}]}`
}

func post(t *testing.T, url, body, secret string) (int, routing) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/whatsapp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out routing
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
	}
	return res.StatusCode, out
}

func TestRouterResolvesThePhoneNumberOfAMetaWebhook(t *testing.T) {
	svc := servicetest.Start(t)
	acme := svc.CreateTenant("Acme")
	const phone, unknown, later = "106540352242922", "106540352242999", "106540352242000"
	svc.LinkNumber(acme.TenantID, "102290129340398", phone)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tenants, err := client.New(ctx, client.Config{BaseURL: svc.URL, APIKey: servicetest.ServiceKey,
		AMQPURL: svc.AMQPURL, Exchange: svc.Exchange})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer tenants.Close()
	const secret = "meta-app-secret"
	srv := httptest.NewServer(newRouter(tenants, secret, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	status, out := post(t, srv.URL, metaWebhook(phone, unknown), secret)
	if status != http.StatusOK || len(out.Routed) != 1 || len(out.Unknown) != 1 {
		t.Fatalf("status %d, %+v", status, out)
	}
	if r := out.Routed[0]; r.PhoneNumberID != phone || r.TenantID != acme.TenantID || r.TenantName != "Acme" || r.Field != "messages" {
		t.Fatalf("routed %+v", r)
	}
	if out.Unknown[0].PhoneNumberID != unknown {
		t.Fatalf("unknown %+v", out.Unknown)
	}
	if status, _ := post(t, srv.URL, metaWebhook(phone), "wrong secret"); status != http.StatusUnauthorized {
		t.Fatalf("bad signature: status %d", status)
	}

	// The service down: a known number still routes; one never seen cannot
	// be resolved, and Meta is told to retry.
	svc.Kill()
	if status, out := post(t, srv.URL, metaWebhook(phone), secret); status != http.StatusOK || len(out.Routed) != 1 {
		t.Fatalf("service down, known number: status %d, %+v", status, out)
	}
	if status, _ := post(t, srv.URL, metaWebhook(later), secret); status != http.StatusServiceUnavailable {
		t.Fatalf("service down, unseen number: status %d, want 503", status)
	}
}
