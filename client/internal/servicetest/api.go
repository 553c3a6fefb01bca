package servicetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Do sends a request with the admin key; body, when not nil, is sent as
// JSON. It returns the status and the raw body.
func (s *Service) Do(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// must sends the request and fails the test unless the status is want; it
// decodes the answer into out when out is not nil.
func (s *Service) must(want int, method, path string, body, out any) {
	s.t.Helper()
	status, b := s.Do(method, path, body)
	if status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// Tenant is the part of the tenant resource tests read.
type Tenant struct {
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	Version  int64  `json:"version"`
}

// CreateTenant creates a tenant and returns it.
func (s *Service) CreateTenant(name string) Tenant {
	s.t.Helper()
	var tn Tenant
	s.must(http.StatusCreated, http.MethodPost, "/api/tenants", map[string]any{"name": name}, &tn)
	return tn
}

// Rename changes the tenant's name and returns its new version.
func (s *Service) Rename(tenantID, name string) int64 {
	s.t.Helper()
	var tn Tenant
	s.must(http.StatusOK, http.MethodPatch, "/api/tenants/"+tenantID, map[string]any{"name": name}, &tn)
	return tn.Version
}

// LinkNumber links a WhatsApp phone number id (with a WABA id) to the tenant.
func (s *Service) LinkNumber(tenantID, wabaID, phoneNumberID string) {
	s.t.Helper()
	status, b := s.Do(http.MethodPost, "/api/tenants/"+tenantID+"/whatsapp",
		map[string]any{"wabaId": wabaID, "phoneNumberId": phoneNumberID, "displayPhoneNumber": "+55 11 " + phoneNumberID})
	if status != http.StatusOK && status != http.StatusCreated {
		s.t.Fatalf("link %s to %s: %d %s", phoneNumberID, tenantID, status, b)
	}
}

// UnlinkNumber unlinks the phone number id from the tenant.
func (s *Service) UnlinkNumber(tenantID, phoneNumberID string) {
	s.t.Helper()
	status, b := s.Do(http.MethodDelete, "/api/tenants/"+tenantID+"/whatsapp/"+url.PathEscape(phoneNumberID), nil)
	if status/100 != 2 {
		s.t.Fatalf("unlink %s from %s: %d %s", phoneNumberID, tenantID, status, b)
	}
}

// SetIntegration sets the tenant's Genesys Open Messaging integration id.
func (s *Service) SetIntegration(tenantID, integrationID string) {
	s.t.Helper()
	status, b := s.Do(http.MethodPut, "/api/tenants/"+tenantID+"/genesys/integration",
		map[string]any{"integrationId": integrationID})
	if status/100 != 2 {
		s.t.Fatalf("set integration %s on %s: %d %s", integrationID, tenantID, status, b)
	}
}

// Delete deletes the tenant.
func (s *Service) Delete(tenantID string) {
	s.t.Helper()
	status, b := s.Do(http.MethodDelete, "/api/tenants/"+tenantID, nil)
	if status/100 != 2 {
		s.t.Fatalf("delete %s: %d %s", tenantID, status, b)
	}
}

// String names the service in test logs.
func (s *Service) String() string {
	return fmt.Sprintf("tenant service at %s (exchange %s)", s.URL, s.Exchange)
}

// Head returns the global position of the newest event.
func (s *Service) Head() int64 {
	s.t.Helper()
	var head int64
	for {
		var page struct {
			Items []struct {
				Position int64 `json:"position"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		s.must(http.StatusOK, http.MethodGet, fmt.Sprintf("/api/events?afterPosition=%d&limit=500", head), nil, &page)
		for _, e := range page.Items {
			head = max(head, e.Position)
		}
		if page.NextCursor == "" || len(page.Items) == 0 {
			return head
		}
	}
}
