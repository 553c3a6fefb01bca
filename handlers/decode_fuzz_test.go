package handlers

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// storable reports whether PostgreSQL can store s as text and in jsonb:
// valid UTF-8 without NUL.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// FuzzDecodeJSON feeds any bytes to the strict JSON decoding of every
// request body, then to the domain's validation. A body is either refused
// with a 4xx problem, or every text the domain accepts from it can be
// stored: the decoding never panics, and no invalid UTF-8 or NUL gets past
// validation into an event.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"Acme","externalRef":"crm-42","settings":{"rateLimit":{"perSecond":20,"burst":40}}}`,
		`{"name":"a\u0000b"}`, "{\"name\":\"a\xffb\"}", `{"name":"\ud800"}`, `{"reason":"unpaid\nsince May"}`,
		`{"reason":"a\u0000b"}`, `{"clientId":"0a1b","clientSecret":"s3cr3t-value-1234","region":"mypurecloud.de"}`,
		`{"integrationId":"int-1","webhookSecret":"whs-\u0007"}`, `{"wabaId":"1029384756","phoneNumberId":"1122334455","displayPhoneNumber":"+49 30 1234","accessToken":"EAA\u0000"}`,
		`{"name":"x","settings":{"rateLimit":{"perSecond":1e309,"burst":-1}}}`, `{"name":"x","colour":"red"}`,
		`{"settings":null}`, `[]`, `{"name":"x"} trailing`, ``, `{"name":`,
	} {
		for kind := range uint8(7) {
			f.Add(kind, []byte(s))
		}
	}
	s := &Server{log: slog.New(slog.DiscardHandler)}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("POST", "/", nil)
		c.Request.Header.Set("Content-Type", "application/json")
		var texts func() ([]string, error) // the domain's verdict and the texts it would store
		switch kind % 7 {
		case 0:
			var req createTenantRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				in := domain.CreateTenant{ExternalRef: req.ExternalRef}
				if req.Name != nil {
					in.Name = *req.Name
				}
				if req.Settings != nil {
					in.Settings = *req.Settings
				}
				return []string{in.Name, in.ExternalRef}, domain.NewTenant(nil).Create(domain.NewTenantID(), in)
			})
		case 1:
			var req reasonRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				tn := domain.NewTenant(nil)
				if err := tn.Create(domain.NewTenantID(), domain.CreateTenant{Name: "n"}); err != nil {
					return nil, err
				}
				return []string{req.Reason}, tn.Suspend(req.Reason)
			})
		case 2:
			var req credentialsRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				return []string{req.ClientID, req.ClientSecret, req.Region},
					domain.ValidateGenesysCredentials(req.ClientID, req.ClientSecret, req.Region)
			})
		case 3:
			var req integrationRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				return []string{req.IntegrationID, req.WebhookSecret}, domain.ValidateIntegration(req.IntegrationID, req.WebhookSecret)
			})
		case 4:
			var req linkRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				l := domain.WABALinked{WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID, DisplayPhoneNumber: req.DisplayPhoneNumber}
				out := []string{l.WABAID, l.PhoneNumberID, l.DisplayPhoneNumber}
				if req.AccessToken != nil {
					out = append(out, *req.AccessToken)
					if err := domain.ValidateWhatsAppToken("accessToken", *req.AccessToken); err != nil {
						return out, err
					}
				}
				return out, domain.ValidateLink(l)
			})
		case 5:
			var req updateTenantRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) {
				tn := domain.NewTenant(nil)
				if err := tn.Create(domain.NewTenantID(), domain.CreateTenant{Name: "n"}); err != nil {
					return nil, err
				}
				var out []string
				if req.Name != nil {
					out = append(out, *req.Name)
				}
				if req.ExternalRef != nil {
					out = append(out, *req.ExternalRef)
				}
				return out, tn.Update(domain.UpdateTenant{Name: req.Name, ExternalRef: req.ExternalRef})
			})
		case 6:
			var req signupRequest
			texts = decoded(s, c, body, &req, func() ([]string, error) { return nil, nil })
		}
		if texts == nil {
			if w.Code < 400 || w.Code >= 500 {
				t.Fatalf("refused body %q answered %d", body, w.Code)
			}
			return
		}
		values, err := texts()
		if err != nil {
			if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid {
				t.Fatalf("the domain refused %q with %v, not a 400", body, err)
			}
			return
		}
		for _, v := range values {
			if !storable(v) {
				t.Fatalf("the domain accepted %q, which PostgreSQL cannot store (from %q)", v, body)
			}
		}
	})
}

// decoded decodes body into req and returns the domain check, or nil when
// the decoding refused the body (and wrote the problem).
func decoded(s *Server, c *gin.Context, body []byte, req any, check func() ([]string, error)) func() ([]string, error) {
	if !s.decodeJSON(c, body, req) {
		return nil
	}
	return check
}
