package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/metagraph"
)

// Graph is the part of the Meta Graph API that Embedded Signup needs.
type Graph interface {
	ExchangeCode(ctx context.Context, code string) (metagraph.Token, error)
	DebugToken(ctx context.Context, token string) (metagraph.TokenInfo, error)
	SubscribeApp(ctx context.Context, wabaID, token string) error
	PhoneNumbers(ctx context.Context, wabaID, token string) ([]metagraph.PhoneNumber, error)
}

type signupRequest struct {
	TenantID      string `json:"tenantId"`
	Code          string `json:"code"`
	WABAID        string `json:"wabaId"`
	PhoneNumberID string `json:"phoneNumberId"`
	BusinessID    string `json:"businessId"`
}

const maxCodeLen = 2048

// signup is the server side of WhatsApp Embedded Signup: exchange the code
// for a business token, check that the WABA was granted to this app,
// subscribe the app to the WABA, read its phone numbers, then store the token
// and link the numbers in one append. Nothing is recorded unless every Graph
// step succeeded; a retried callback with the same code answers the first
// result without calling Meta again (the code is single-use).
func (s *Server) signup(c *gin.Context) {
	var req signupRequest
	if _, ok := s.readJSON(c, &req); !ok {
		return
	}
	id, err := domain.ParseTenantID(req.TenantID)
	var fields []domain.FieldError
	if err != nil {
		fields = append(fields, domain.FieldError{Field: "tenantId", Message: "must be a tenant id (UUID)"})
	}
	if req.Code == "" || len(req.Code) > maxCodeLen || strings.ContainsFunc(req.Code, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		fields = append(fields, domain.FieldError{Field: "code", Message: fmt.Sprintf("is required: the code from FB.login, 1 to %d printable characters", maxCodeLen)})
	}
	if !isGraphID(req.WABAID) {
		fields = append(fields, domain.FieldError{Field: "wabaId", Message: "is required: a WhatsApp Business Account id (digits)"})
	}
	if req.PhoneNumberID != "" && !isGraphID(req.PhoneNumberID) {
		fields = append(fields, domain.FieldError{Field: "phoneNumberId", Message: "must be a phone number id (digits)"})
	}
	if req.BusinessID != "" && !isGraphID(req.BusinessID) {
		fields = append(fields, domain.FieldError{Field: "businessId", Message: "must be a business portfolio id (digits)"})
	}
	if len(fields) > 0 {
		s.fail(c, domain.Invalid(fields...))
		return
	}
	if s.deps.Graph == nil || s.cfg.MetaAppID == "" {
		s.fail(c, &domain.Error{Kind: domain.KindUnavailable, Code: "meta-not-configured",
			Detail: "Embedded Signup needs META_APP_ID and META_APP_SECRET"})
		return
	}
	// The key is derived from the code: a retried callback replays the result.
	sum := sha256.Sum256([]byte(req.Code))
	opts := WriteOptions{Metadata: s.metadata(c), IdempotencyScope: "signup|" + hex.EncodeToString(sum[:]),
		RequestHash: []byte(string(id) + "|" + req.WABAID + "|" + req.PhoneNumberID)}
	opts.Metadata.IdempotencyKey = "signup:" + hex.EncodeToString(sum[:8])
	if !s.writableTenant(c, id) {
		return
	}
	ctx := c.Request.Context()
	var onboarded *onboarding
	res, err := s.deps.Writer.Execute(ctx, id, opts, func(t *domain.Tenant) error {
		if onboarded == nil { // Graph is called once, even if the append is retried
			o, err := s.onboard(ctx, id, req)
			if err != nil {
				return err
			}
			onboarded = o
		}
		for _, link := range onboarded.links {
			if err := t.LinkWABA(link); err != nil {
				return err
			}
		}
		return t.StoreWhatsAppToken(onboarded.token, onboarded.expiresAt, "embedded_signup")
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if res.Duplicate {
		c.Header("Idempotent-Replayed", "true")
	}
	s.respondTenant(c, http.StatusOK, res.State)
}

type onboarding struct {
	token     domain.SecretRef
	expiresAt *time.Time
	links     []domain.WABALinked
}

// onboard runs the Graph steps and seals the business token.
func (s *Server) onboard(ctx context.Context, id domain.TenantID, req signupRequest) (*onboarding, error) {
	g := s.deps.Graph
	tok, err := g.ExchangeCode(ctx, req.Code)
	if err != nil {
		return nil, graphError(err)
	}
	info, err := g.DebugToken(ctx, tok.AccessToken)
	if err != nil {
		return nil, graphError(err)
	}
	switch {
	case !info.IsValid:
		return nil, &domain.Error{Kind: domain.KindUpstream, Code: "meta-token-invalid", Detail: "Meta says the exchanged business token is not valid"}
	case info.AppID != s.cfg.MetaAppID:
		return nil, &domain.Error{Kind: domain.KindUpstream, Code: "meta-token-wrong-app", Detail: "the business token was issued to another Meta app"}
	case !slices.Contains(info.GrantedWABAs(), req.WABAID):
		return nil, domain.Invalid(domain.FieldError{Field: "wabaId", Message: "was not granted to this app in the signup; only granted WhatsApp Business Accounts can be linked"})
	}
	if err := g.SubscribeApp(ctx, req.WABAID, tok.AccessToken); err != nil {
		return nil, graphError(err)
	}
	numbers, err := g.PhoneNumbers(ctx, req.WABAID, tok.AccessToken)
	if err != nil {
		return nil, graphError(err)
	}
	o := &onboarding{}
	for _, n := range numbers {
		if req.PhoneNumberID != "" && n.ID != req.PhoneNumberID {
			continue
		}
		o.links = append(o.links, domain.WABALinked{WABAID: req.WABAID, PhoneNumberID: n.ID,
			DisplayPhoneNumber: n.DisplayPhoneNumber, VerifiedName: n.VerifiedName, BusinessID: req.BusinessID, Source: "embedded_signup"})
	}
	if len(o.links) == 0 {
		if req.PhoneNumberID != "" {
			return nil, domain.Invalid(domain.FieldError{Field: "phoneNumberId", Message: "is not a phone number of this WhatsApp Business Account"})
		}
		return nil, domain.Errorf(domain.KindRefused, "waba-has-no-phone-numbers", "WhatsApp Business Account %s has no phone numbers to link yet", req.WABAID)
	}
	if !info.ExpiresAt.IsZero() {
		at := info.ExpiresAt.UTC()
		o.expiresAt = &at
	}
	if o.token, err = s.deps.Vault.SealRef(ctx, id, domain.FieldWhatsAppAccessToken, tok.AccessToken); err != nil {
		return nil, err
	}
	return o, nil
}

// graphError turns a Graph failure into a 502 with Meta's message and
// fbtrace_id, or a 400 for input Meta was never asked about.
func graphError(err error) error {
	if errors.Is(err, metagraph.ErrInvalidArgument) {
		return domain.Invalid(domain.FieldError{Field: "body", Message: err.Error()})
	}
	ge, ok := metagraph.AsError(err)
	if !ok {
		return err
	}
	detail := map[string]any{"service": "meta", "step": ge.Step, "status": ge.HTTPStatus, "code": ge.Code,
		"subcode": ge.Subcode, "type": ge.Type, "message": ge.Message, "fbtraceId": ge.FBTraceID}
	msg := fmt.Sprintf("Meta Graph API failed at step %s", ge.Step)
	switch {
	case ge.Timeout():
		msg += ": no answer in time"
	case ge.HTTPStatus == 0:
		msg += ": could not reach it"
	default:
		msg += fmt.Sprintf(": %s (code %d", ge.Message, ge.Code)
		if ge.FBTraceID != "" {
			msg += ", fbtrace_id " + ge.FBTraceID
		}
		msg += ")"
	}
	return upstreamError{err: &domain.Error{Kind: domain.KindUpstream, Code: "meta-graph-error", Detail: msg, Err: err}, detail: detail}
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
