package projections

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

// whatsAppTokenTTL is how long token:whatsapp:{id} lives (PRODUCT.md: 24 h).
const whatsAppTokenTTL = 24 * time.Hour

// tokenEntry is the value of token:whatsapp:{id}: the sealed token (never
// plaintext) and what the token route needs besides it. Its tenantId and
// version fields let the version-guarded script order writers.
type tokenEntry struct {
	TenantID domain.TenantID      `json:"tenantId"`
	Version  domain.Version       `json:"version"`
	Status   domain.Status        `json:"status"`
	WABAID   string               `json:"wabaId,omitempty"`
	Token    domain.WhatsAppToken `json:"token"`
	// RateLimit is the tenant's own limit, for the token route's check.
	RateLimit *domain.RateLimit `json:"rateLimit,omitempty"`
}

func tokenEntryOf(st domain.State) (tokenEntry, bool) {
	if st.WhatsApp == nil || st.WhatsApp.Token == nil || st.Status == domain.StatusDeleted {
		return tokenEntry{}, false
	}
	return tokenEntry{TenantID: st.TenantID, Version: st.Version, Status: st.Status,
		WABAID: st.WhatsApp.WABAID, Token: *st.WhatsApp.Token, RateLimit: st.Settings.RateLimit}, true
}

func (e tokenEntry) state() domain.State {
	tok := e.Token
	return domain.State{TenantID: e.TenantID, Version: e.Version, Status: e.Status,
		Settings: domain.Settings{RateLimit: e.RateLimit}, WhatsApp: &domain.WhatsAppConfig{WABAID: e.WABAID, Token: &tok}}
}

// queueWhatsAppToken writes the tenant's sealed token entry (or removes it
// when the tenant has none), version-guarded with the 24 h TTL.
func (p *RedisTenants) queueWhatsAppToken(ctx context.Context, pipe redis.Pipeliner, st domain.State) error {
	entry, ok := tokenEntryOf(st)
	if !ok {
		pipe.Del(ctx, p.keys.WhatsAppToken(st.TenantID))
		return nil
	}
	raw, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	setContextScript.Eval(ctx, pipe, []string{p.keys.WhatsAppToken(st.TenantID)}, string(st.TenantID),
		int64(st.Version), raw, "fill", whatsAppTokenTTL.Milliseconds())
	return nil
}

// WhatsAppToken returns the parts of the tenant's state the WhatsApp token
// route needs (status, WABA, sealed token): Redis first, PostgreSQL on a miss
// (refilling Redis), PostgreSQL alone while Redis is down. A tenant without a
// token comes back without one; a deleted tenant with status deleted.
func (r *Resolver) WhatsAppToken(ctx context.Context, id domain.TenantID) (domain.State, error) {
	if _, err := domain.ParseTenantID(string(id)); err != nil {
		return domain.State{}, domain.ErrTenantNotFound
	}
	key := r.keys.WhatsAppToken(id)
	var raw []byte
	if err := r.guard(ctx, func(ctx context.Context) error {
		var err error
		raw, err = r.rdb.Get(ctx, key).Bytes()
		return err
	}); err == nil {
		var e tokenEntry
		if json.Unmarshal(raw, &e) == nil && e.TenantID == id {
			return e.state(), nil
		}
	}
	st, err := r.pg.Get(ctx, id)
	if err != nil {
		return domain.State{}, err
	}
	if entry, ok := tokenEntryOf(st); ok {
		if raw, err := json.Marshal(entry); err == nil {
			err = r.guard(ctx, func(ctx context.Context) error {
				return setContextScript.Run(ctx, r.rdb, []string{key}, string(id), int64(st.Version), raw,
					"fill", whatsAppTokenTTL.Milliseconds()).Err()
			})
			if err != nil && !errors.Is(err, errRedisSkipped) {
				r.log.Debug("refill of whatsapp token failed", "tenant_id", id, "error", err)
			}
		}
	}
	return st, nil
}
