package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

type linkRequest struct {
	WABAID             string  `json:"wabaId"`
	PhoneNumberID      string  `json:"phoneNumberId"`
	DisplayPhoneNumber string  `json:"displayPhoneNumber"`
	AccessToken        *string `json:"accessToken"` // optional, but not empty when given
}

// linkWhatsApp links a WABA phone number by hand (WABALinked), and stores its
// access token when one is given (WhatsAppTokenStored), in one append.
func (s *Server) linkWhatsApp(c *gin.Context) {
	var req linkRequest
	var link domain.WABALinked
	id, opts, ok := s.secretWrite(c, &req, func() error {
		if req.AccessToken != nil {
			if err := domain.ValidateWhatsAppToken("accessToken", *req.AccessToken); err != nil {
				return err
			}
		}
		link = domain.WABALinked{WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID,
			DisplayPhoneNumber: req.DisplayPhoneNumber, Source: "manual"}
		return domain.ValidateLink(link)
	})
	if !ok {
		return
	}
	var token *domain.SecretRef
	if req.AccessToken != nil {
		if token, ok = s.sealOptional(c, id, domain.FieldWhatsAppAccessToken, *req.AccessToken); !ok {
			return
		}
	}
	res, err := s.deps.Writer.Execute(c.Request.Context(), id, opts, func(t *domain.Tenant) error {
		if err := t.LinkWABA(link); err != nil {
			return err
		}
		if token != nil {
			return t.StoreWhatsAppToken(*token, nil, "manual")
		}
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respondTenant(c, http.StatusCreated, res.State)
}

func (s *Server) unlinkWhatsApp(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	phone := c.Param("phoneNumberId")
	opts, ok := s.writeOptions(c, nil)
	if !ok {
		return
	}
	s.execute(c, id, opts, http.StatusOK, func(t *domain.Tenant) error { return t.UnlinkWABA(phone) })
}

// WhatsAppTokenResponse is the decrypted WhatsApp access token.
type WhatsAppTokenResponse struct {
	TenantID    domain.TenantID `json:"tenantId"`
	AccessToken string          `json:"accessToken"`
	WABAID      string          `json:"wabaId,omitempty"`
	ExpiresAt   *time.Time      `json:"expiresAt,omitempty"`
	StoredAt    time.Time       `json:"storedAt"`
	Status      domain.Status   `json:"status"`
}

// WhatsAppTokens reads a tenant's sealed WhatsApp token: Redis first,
// PostgreSQL on a miss.
type WhatsAppTokens interface {
	WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (domain.State, error)
}

func (s *Server) getWhatsAppToken(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	min, ok := s.minPosition(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	st, err := s.deps.WhatsAppTokens.WhatsAppToken(ctx, id, min)
	switch {
	case err != nil:
		s.fail(c, err)
		return
	case st.Status == domain.StatusDeleted:
		s.fail(c, errSecretsShredded)
		return
	case st.WhatsApp == nil || st.WhatsApp.Token == nil:
		s.fail(c, &domain.Error{Kind: domain.KindNotFound, Code: "whatsapp-token-not-set", Detail: "the tenant has no WhatsApp access token"})
		return
	}
	if !s.allowTenant(c, st) || !s.liveKey(c, id) {
		return
	}
	tok := st.WhatsApp.Token
	plain, err := s.deps.Vault.OpenRef(ctx, id, domain.FieldWhatsAppAccessToken, tok.Token)
	if err != nil {
		s.fail(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, WhatsAppTokenResponse{TenantID: id, AccessToken: plain, WABAID: st.WhatsApp.WABAID,
		ExpiresAt: tok.ExpiresAt, StoredAt: tok.StoredAt, Status: st.Status})
}
