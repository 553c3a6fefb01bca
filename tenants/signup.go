package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"tenant-service/domain"
)

// Signup is the result of WhatsApp Embedded Signup as Meta's front end
// reports it: the tenant, the code from FB.login and the ids from the
// WA_EMBEDDED_SIGNUP message event.
type Signup struct {
	TenantID      string
	Code          string
	WABAID        string
	PhoneNumberID string // optional: link only this number of the WABA
	BusinessID    string // optional
}

const maxCodeLen = 2048

// validate names every bad field.
func (in Signup) validate() (domain.TenantID, error) {
	id, err := domain.ParseTenantID(in.TenantID)
	var fields []domain.FieldError
	if err != nil {
		fields = append(fields, domain.FieldError{Field: "tenantId", Message: "must be a tenant id (UUID)"})
	}
	if in.Code == "" || len(in.Code) > maxCodeLen || strings.ContainsFunc(in.Code, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		fields = append(fields, domain.FieldError{Field: "code", Message: fmt.Sprintf("is required: the code from FB.login, 1 to %d printable characters", maxCodeLen)})
	}
	if !isGraphID(in.WABAID) {
		fields = append(fields, domain.FieldError{Field: "wabaId", Message: "is required: a WhatsApp Business Account id (digits)"})
	}
	if in.PhoneNumberID != "" && !isGraphID(in.PhoneNumberID) {
		fields = append(fields, domain.FieldError{Field: "phoneNumberId", Message: "must be a phone number id (digits)"})
	}
	if in.BusinessID != "" && !isGraphID(in.BusinessID) {
		fields = append(fields, domain.FieldError{Field: "businessId", Message: "must be a business portfolio id (digits)"})
	}
	if len(fields) > 0 {
		return "", domain.Invalid(fields...)
	}
	return id, nil
}

func isGraphID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var errMetaNotConfigured = &domain.Error{Kind: domain.KindUnavailable, Code: "meta-not-configured",
	Detail: "Embedded Signup needs META_APP_ID and META_APP_SECRET"}

// CompleteSignup is the server side of WhatsApp Embedded Signup: exchange the
// code for a business token, check that the WABA was granted to this app,
// subscribe the app to the WABA, read its phone numbers, then store the
// sealed token and link the numbers in one append. Nothing is recorded
// unless every Graph step succeeded; a retried callback with the same code
// answers the first result without calling Meta again (the code is
// single-use). w carries who acts; its idempotency comes from the code.
func (s *Service) CompleteSignup(ctx context.Context, in Signup, w domain.Write) (out domain.Outcome, err error) {
	var id domain.TenantID
	defer s.observe("complete_signup", &id, time.Now(), &out, &err)
	id, err = in.validate()
	if err != nil {
		return domain.Outcome{}, err
	}
	if s.graph == nil || s.cfg.MetaAppID == "" {
		return domain.Outcome{}, errMetaNotConfigured
	}
	sum := sha256.Sum256([]byte(in.Code))
	w.Idempotency = &domain.Idempotency{Scope: "signup|" + hex.EncodeToString(sum[:]),
		RequestHash: []byte(string(id) + "|" + in.WABAID + "|" + in.PhoneNumberID)}
	w.Metadata.IdempotencyKey = "signup:" + hex.EncodeToString(sum[:8])
	if err := s.writableForSecrets(ctx, id); err != nil {
		return domain.Outcome{}, err
	}
	var done *onboarding
	return s.execute(ctx, id, w, func(t *domain.Tenant) error {
		if done == nil { // Graph is called once, even if the append is retried
			o, err := s.onboard(ctx, id, in)
			if err != nil {
				return err
			}
			done = o
		}
		for _, link := range done.links {
			if err := t.LinkWABA(link); err != nil {
				return err
			}
		}
		return t.StoreWhatsAppToken(done.token, done.expiresAt, "embedded_signup")
	})
}

type onboarding struct {
	token     domain.SecretRef
	expiresAt *time.Time
	links     []domain.WABALinked
}

// onboard runs the Graph steps and seals the business token.
func (s *Service) onboard(ctx context.Context, id domain.TenantID, in Signup) (*onboarding, error) {
	tok, err := s.graph.ExchangeCode(ctx, in.Code)
	if err != nil {
		return nil, graphError(err)
	}
	info, err := s.graph.DebugToken(ctx, tok.AccessToken)
	if err != nil {
		return nil, graphError(err)
	}
	switch {
	case !info.IsValid:
		return nil, &domain.Error{Kind: domain.KindUpstream, Code: "meta-token-invalid", Detail: "Meta says the exchanged business token is not valid"}
	case info.AppID != s.cfg.MetaAppID:
		return nil, &domain.Error{Kind: domain.KindUpstream, Code: "meta-token-wrong-app", Detail: "the business token was issued to another Meta app"}
	case !slices.Contains(info.GrantedWABAs(), in.WABAID):
		return nil, domain.Invalid(domain.FieldError{Field: "wabaId", Message: "was not granted to this app in the signup; only granted WhatsApp Business Accounts can be linked"})
	}
	if err := s.graph.SubscribeApp(ctx, in.WABAID, tok.AccessToken); err != nil {
		return nil, graphError(err)
	}
	numbers, err := s.graph.PhoneNumbers(ctx, in.WABAID, tok.AccessToken)
	if err != nil {
		return nil, graphError(err)
	}
	o := &onboarding{}
	for _, n := range numbers {
		if in.PhoneNumberID != "" && n.ID != in.PhoneNumberID {
			continue
		}
		o.links = append(o.links, domain.WABALinked{WABAID: in.WABAID, PhoneNumberID: n.ID,
			DisplayPhoneNumber: n.DisplayPhoneNumber, VerifiedName: n.VerifiedName, BusinessID: in.BusinessID, Source: "embedded_signup"})
	}
	if len(o.links) == 0 {
		if in.PhoneNumberID != "" {
			return nil, domain.Invalid(domain.FieldError{Field: "phoneNumberId", Message: "is not a phone number of this WhatsApp Business Account"})
		}
		return nil, domain.Errorf(domain.KindRefused, "waba-has-no-phone-numbers", "WhatsApp Business Account %s has no phone numbers to link yet", in.WABAID)
	}
	if !info.ExpiresAt.IsZero() {
		at := info.ExpiresAt.UTC()
		o.expiresAt = &at
	}
	if o.token, err = s.vault.SealRef(ctx, id, domain.FieldWhatsAppAccessToken, tok.AccessToken); err != nil {
		return nil, err
	}
	return o, nil
}
