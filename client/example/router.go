package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"tenant-service/client"
)

// Tenants is the part of the tenant client the router uses.
type Tenants interface {
	ByPhoneNumber(ctx context.Context, phoneNumberID string) (client.Context, error)
}

// webhook is the part of Meta's WhatsApp webhook body the router reads.
type webhook struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"` // the WABA id
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					PhoneNumberID      string `json:"phone_number_id"`
					DisplayPhoneNumber string `json:"display_phone_number"`
				} `json:"metadata"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// route is where one change of a webhook goes.
type route struct {
	PhoneNumberID string `json:"phoneNumberId"`
	Field         string `json:"field"`
	TenantID      string `json:"tenantId,omitempty"`
	TenantName    string `json:"tenantName,omitempty"`
	Status        string `json:"status,omitempty"`
}

type routing struct {
	Routed  []route `json:"routed"`
	Unknown []route `json:"unknown"`
}

// router serves POST /webhooks/whatsapp.
type router struct {
	tenants   Tenants
	appSecret string
	log       *slog.Logger
}

func newRouter(tenants Tenants, appSecret string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/whatsapp", &router{tenants: tenants, appSecret: appSecret, log: log})
	return mux
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if rt.appSecret != "" && !signed(body, r.Header.Get("X-Hub-Signature-256"), rt.appSecret) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var hook webhook
	if err := json.Unmarshal(body, &hook); err != nil || hook.Object != "whatsapp_business_account" {
		http.Error(w, "not a WhatsApp Business Account webhook", http.StatusBadRequest)
		return
	}
	// Meta waits at most a few seconds for the answer.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := routing{Routed: []route{}, Unknown: []route{}}
	for _, e := range hook.Entry {
		for _, ch := range e.Changes {
			rte := route{PhoneNumberID: ch.Value.Metadata.PhoneNumberID, Field: ch.Field}
			if rte.PhoneNumberID == "" {
				// account_update and template events name only the WABA
				// (entry.id); this router handles messages.
				out.Unknown = append(out.Unknown, rte)
				continue
			}
			tc, err := rt.tenants.ByPhoneNumber(ctx, rte.PhoneNumberID)
			switch {
			case errors.Is(err, client.ErrNotFound):
				rt.log.Warn("webhook for a number no tenant holds; dropped", "phone_number_id", rte.PhoneNumberID, "waba_id", e.ID)
				out.Unknown = append(out.Unknown, rte)
			case err != nil:
				// The tenant service did not answer: make Meta retry later.
				rt.log.Error("cannot resolve the tenant of a webhook", "phone_number_id", rte.PhoneNumberID, "error", err)
				http.Error(w, "tenant lookup unavailable, retry later", http.StatusServiceUnavailable)
				return
			default:
				rte.TenantID, rte.TenantName, rte.Status = tc.TenantID, tc.Name, tc.Status
				out.Routed = append(out.Routed, rte)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// signed reports whether header is "sha256=" + the hex HMAC-SHA256 of body
// with the app secret, as Meta signs its webhooks.
func signed(body []byte, header, secret string) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(header, "sha256="))
	if err != nil || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
