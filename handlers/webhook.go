package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/metagraph"
)

// WebhookTenants finds the live tenants a Meta webhook change is about.
type WebhookTenants interface {
	OwnerOfPhone(ctx context.Context, phoneNumberID string) (domain.TenantID, error)
	// HoldersOfWABA returns every live tenant holding a number of the WABA.
	HoldersOfWABA(ctx context.Context, wabaID string) ([]domain.TenantID, error)
}

// webhookActor is recorded as the actor of events caused by Meta's webhooks.
const webhookActor = "meta:webhook"

// verifyWebhook answers Meta's verification handshake.
func (s *Server) verifyWebhook(c *gin.Context) {
	challenge, ok := metagraph.VerifyChallenge(c.Request.URL.Query(), s.cfg.MetaWebhookVerifyToken)
	if !ok {
		s.problem(c, http.StatusForbidden, "webhook-verification-failed", "hub.mode or hub.verify_token does not match", nil)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(challenge))
}

// receiveWebhook records signed account updates as WhatsAppAccountUpdated on
// the owning tenant. The signature is checked over the raw bytes before
// anything is parsed; a bad one records nothing. Changes for numbers and
// WABAs no tenant holds are acknowledged and ignored, so Meta stops retrying.
func (s *Server) receiveWebhook(c *gin.Context) {
	if s.cfg.MetaAppSecret == "" {
		s.problem(c, http.StatusServiceUnavailable, "meta-not-configured", "webhooks need META_APP_SECRET", nil)
		return
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.problem(c, http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit), nil)
			return
		}
		s.problem(c, http.StatusBadRequest, "unreadable-body", "the request body could not be read", nil)
		return
	}
	if !metagraph.VerifySignature(s.cfg.MetaAppSecret, raw, c.GetHeader(metagraph.SignatureHeader)) {
		s.problem(c, http.StatusUnauthorized, "bad-signature", "X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the body", nil)
		return
	}
	n, err := metagraph.ParseNotification(raw)
	if err != nil {
		s.fail(c, domain.Invalid(domain.FieldError{Field: "body", Message: "is not a webhook notification: " + err.Error()}))
		return
	}
	recorded, ignored := 0, 0
	if n.Object == metagraph.ObjectWhatsAppBusinessAccount {
		sum := sha256.Sum256(raw)
		for i, entry := range n.Entry {
			for j, change := range entry.Changes {
				n, err := s.recordChange(c, sum[:], i, j, entry, change)
				if err != nil {
					s.fail(c, err) // Meta retries; the idempotency key keeps retries single
					return
				}
				if n > 0 {
					recorded += n
				} else {
					ignored++
				}
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"recorded": recorded, "ignored": ignored})
}

// recordChange records one change on every live tenant it is about: the
// holder of the number it names, or, for a change of the whole WABA, every
// tenant holding a number of that WABA. It returns how many recorded it.
func (s *Server) recordChange(c *gin.Context, bodyHash []byte, i, j int, entry metagraph.Entry, ch metagraph.Change) (int, error) {
	au, ok := entry.AccountUpdate(ch)
	if !ok {
		return 0, nil // messages and other fields are not account changes
	}
	u := domain.WhatsAppAccountUpdated{WABAID: au.WABAID, PhoneNumberID: au.PhoneNumberID, Field: au.Field, Event: au.Event,
		QualityRating: au.QualityRating, Status: au.Status, BanState: au.BanState, DisplayName: au.DisplayName}
	if domain.ValidateAccountUpdate(u) != nil {
		return 0, nil // nothing sensible to record; Meta would retry a refusal forever
	}
	ctx := c.Request.Context()
	var ids []domain.TenantID
	if u.PhoneNumberID != "" {
		id, err := s.deps.Webhooks.OwnerOfPhone(ctx, u.PhoneNumberID)
		if domain.KindOf(err) == domain.KindNotFound {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		ids = []domain.TenantID{id}
	} else {
		var err error
		if ids, err = s.deps.Webhooks.HoldersOfWABA(ctx, u.WABAID); err != nil {
			return 0, err
		}
	}
	recorded := 0
	for _, id := range ids {
		meta := s.metadata(c)
		meta.Actor, meta.ActorRole = webhookActor, ""
		opts := WriteOptions{Metadata: meta,
			IdempotencyScope: fmt.Sprintf("%s|%s|%d|%d|%s", webhookActor, hex.EncodeToString(bodyHash), i, j, id),
			RequestHash:      bodyHash}
		res, err := s.deps.Writer.Execute(ctx, id, opts, func(t *domain.Tenant) error { return t.RecordAccountUpdate(u) })
		switch {
		case domain.KindOf(err) == domain.KindNotFound:
		case err != nil:
			return recorded, err
		case len(res.Events) > 0 || res.Duplicate:
			recorded++
		}
	}
	return recorded, nil
}
