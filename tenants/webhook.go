package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"tenant-service/domain"
	"tenant-service/metagraph"
)

// webhookActor is recorded as the actor of events caused by Meta's webhooks.
const webhookActor = "meta:webhook"

// Errors of Meta's webhooks.
var (
	errWebhookNotConfigured = &domain.Error{Kind: domain.KindUnavailable, Code: "meta-not-configured",
		Detail: "webhooks need META_APP_SECRET"}
	errBadSignature = &domain.Error{Kind: domain.KindUnauthorized, Code: "bad-signature",
		Detail: "X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the body"}
	errHandshake = &domain.Error{Kind: domain.KindForbidden, Code: "webhook-verification-failed",
		Detail: "hub.mode or hub.verify_token does not match"}
)

// VerifyWebhook answers Meta's verification handshake with the challenge.
func (s *Service) VerifyWebhook(query url.Values) (string, error) {
	challenge, ok := metagraph.VerifyChallenge(query, s.cfg.MetaWebhookVerifyToken)
	if !ok {
		return "", errHandshake
	}
	return challenge, nil
}

// WebhookResult says what a webhook delivery did.
type WebhookResult struct {
	Recorded int `json:"recorded"`
	Ignored  int `json:"ignored"`
}

// RecordWebhook records the account updates of a signed Meta webhook
// delivery as WhatsAppAccountUpdated: on the holder of the number a change
// names, or for a change of a whole WABA on every live tenant holding a
// number of it. The signature is checked over the raw bytes before anything
// is parsed; a bad one records nothing. Changes for numbers and WABAs no
// tenant holds, and values no event could store, are acknowledged and
// ignored, so Meta stops retrying; a retried delivery records nothing more.
// meta is the request's metadata; the actor becomes Meta's webhook.
func (s *Service) RecordWebhook(ctx context.Context, raw []byte, signature string, meta domain.Metadata) (res WebhookResult, err error) {
	defer func(start time.Time) {
		out := domain.Outcome{Events: make([]domain.StoredEvent, res.Recorded)} // applied when it recorded any
		var none domain.TenantID
		s.observe("record_webhook", &none, start, &out, &err)
	}(time.Now())
	if s.cfg.MetaAppSecret == "" {
		return WebhookResult{}, errWebhookNotConfigured
	}
	if !metagraph.VerifySignature(s.cfg.MetaAppSecret, raw, signature) {
		return WebhookResult{}, errBadSignature
	}
	n, err := metagraph.ParseNotification(raw)
	if err != nil {
		return WebhookResult{}, domain.Invalid(domain.FieldError{Field: "body", Message: "is not a webhook notification: " + err.Error()})
	}
	if n.Object != metagraph.ObjectWhatsAppBusinessAccount {
		return res, nil
	}
	sum := sha256.Sum256(raw)
	meta.Actor, meta.ActorRole = webhookActor, ""
	for i, entry := range n.Entry {
		for j, change := range entry.Changes {
			recorded, err := s.recordChange(ctx, sum[:], i, j, entry, change, meta)
			if err != nil {
				return res, err // Meta retries; the idempotency scope keeps retries single
			}
			if recorded > 0 {
				res.Recorded += recorded
			} else {
				res.Ignored++
			}
		}
	}
	return res, nil
}

// recordChange records one change on every live tenant it is about and
// returns how many recorded it.
func (s *Service) recordChange(ctx context.Context, bodyHash []byte, i, j int, entry metagraph.Entry, ch metagraph.Change, meta domain.Metadata) (int, error) {
	au, ok := entry.AccountUpdate(ch)
	if !ok {
		return 0, nil // messages and other fields are not account changes
	}
	u := domain.WhatsAppAccountUpdated{WABAID: au.WABAID, PhoneNumberID: au.PhoneNumberID, Field: au.Field, Event: au.Event,
		QualityRating: au.QualityRating, Status: au.Status, BanState: au.BanState, DisplayName: au.DisplayName}
	if domain.ValidateAccountUpdate(u) != nil {
		return 0, nil // nothing an event could store; Meta would retry a refusal forever
	}
	var ids []domain.TenantID
	if u.PhoneNumberID != "" {
		id, err := s.tenants.OwnerOfPhone(ctx, u.PhoneNumberID)
		if domain.KindOf(err) == domain.KindNotFound {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		ids = []domain.TenantID{id}
	} else {
		var err error
		if ids, err = s.tenants.HoldersOfWABA(ctx, u.WABAID); err != nil {
			return 0, err
		}
	}
	recorded := 0
	for _, id := range ids {
		w := domain.Write{Metadata: meta, Idempotency: &domain.Idempotency{
			Scope:       fmt.Sprintf("%s|%s|%d|%d|%s", webhookActor, hex.EncodeToString(bodyHash), i, j, id),
			RequestHash: bodyHash}}
		out, err := s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.RecordAccountUpdate(u) })
		switch {
		case domain.KindOf(err) == domain.KindNotFound:
		case err != nil:
			return recorded, err
		case len(out.Events) > 0 || out.Duplicate:
			recorded++
		}
	}
	return recorded, nil
}
