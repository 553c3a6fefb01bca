package tenants

import (
	"context"
	"time"

	"tenant-service/domain"
)

// LinkWhatsApp links a WABA phone number by hand (WABALinked) and, when an
// access token is given, stores it sealed (WhatsAppTokenStored), in one
// append. A number another live tenant holds is a conflict.
func (s *Service) LinkWhatsApp(ctx context.Context, id domain.TenantID, link domain.WABALinked, accessToken *string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("link_whatsapp", &id, time.Now(), &out, &err)
	link.Source = "manual"
	if err := domain.ValidateLink(link); err != nil {
		return domain.Outcome{}, err
	}
	if accessToken != nil {
		if err := domain.ValidateWhatsAppToken("accessToken", *accessToken); err != nil {
			return domain.Outcome{}, err
		}
	}
	if err := s.writableForSecrets(ctx, id); err != nil {
		return domain.Outcome{}, err
	}
	var token *domain.SecretRef
	if accessToken != nil {
		var err error
		if token, err = s.seal(ctx, id, domain.FieldWhatsAppAccessToken, *accessToken); err != nil {
			return domain.Outcome{}, err
		}
	}
	return s.execute(ctx, id, w, func(t *domain.Tenant) error {
		if err := t.LinkWABA(link); err != nil {
			return err
		}
		if token != nil {
			return t.StoreWhatsAppToken(*token, nil, "manual")
		}
		return nil
	})
}

// UnlinkWhatsApp records WABAUnlinked for a linked number.
func (s *Service) UnlinkWhatsApp(ctx context.Context, id domain.TenantID, phoneNumberID string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("unlink_whatsapp", &id, time.Now(), &out, &err)
	return s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.UnlinkWABA(phoneNumberID) })
}

// WhatsAppToken is the decrypted WhatsApp access token.
type WhatsAppToken struct {
	TenantID    domain.TenantID `json:"tenantId"`
	AccessToken string          `json:"accessToken"`
	WABAID      string          `json:"wabaId,omitempty"`
	ExpiresAt   *time.Time      `json:"expiresAt,omitempty"`
	StoredAt    time.Time       `json:"storedAt"`
	Status      domain.Status   `json:"status"`
}

// WhatsAppToken returns the tenant's decrypted WhatsApp access token,
// reflecting every event up to min. Redis may answer the sealed token; the
// tenant's data key is still checked in PostgreSQL, so a deleted tenant's
// token is never handed out, whatever a cache holds.
func (s *Service) WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (WhatsAppToken, error) {
	st, err := s.resolver.WhatsAppToken(ctx, id, min)
	switch {
	case err != nil:
		return WhatsAppToken{}, err
	case st.Status != domain.StatusDeleted && (st.WhatsApp == nil || st.WhatsApp.Token == nil):
		return WhatsAppToken{}, ErrNoWhatsAppToken
	}
	if err := s.handOut(ctx, st); err != nil {
		return WhatsAppToken{}, err
	}
	tok := st.WhatsApp.Token
	plain, err := s.vault.OpenRef(ctx, id, domain.FieldWhatsAppAccessToken, tok.Token)
	if err != nil {
		return WhatsAppToken{}, err
	}
	return WhatsAppToken{TenantID: id, AccessToken: plain, WABAID: st.WhatsApp.WABAID, ExpiresAt: tok.ExpiresAt,
		StoredAt: tok.StoredAt, Status: st.Status}, nil
}
