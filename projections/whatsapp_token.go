package projections

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
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
	fillScript.Eval(ctx, pipe, []string{p.keys.WhatsAppToken(st.TenantID), p.keys.versions(RedisTenantsName)},
		string(st.TenantID), int64(st.Version), raw, whatsAppTokenTTL.Milliseconds())
	return nil
}

// WhatsAppToken returns the parts of the tenant's state the WhatsApp token
// route needs (status, WABA, sealed token), reflecting at least position
// min: Redis first, PostgreSQL on a miss (refilling Redis), PostgreSQL alone
// while Redis is down. A tenant without a token comes back without one; a
// deleted tenant with status deleted. Callers that hand the token out must
// still check in PostgreSQL that the tenant's data key is live: Redis may
// hold an entry that outlived a delete.
func (r *Resolver) WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (_ domain.State, err error) {
	defer postgres.ClassifyOn(&err)
	if _, err := domain.ParseTenantID(string(id)); err != nil {
		return domain.State{}, domain.ErrTenantNotFound
	}
	key := r.keys.WhatsAppToken(id)
	if raw, ok := r.cached(ctx, key, min); ok {
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
			r.fill(ctx, key, id, st.Version, raw, whatsAppTokenTTL)
		}
	}
	return st, nil
}
