package tokencache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/genesys"
)

// releaseLock deletes the lock only while it still holds our value, so a
// holder whose lock expired never frees the next holder's lock.
var releaseLock = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// cached is a cache hit: a token or a remembered failure.
type cached struct {
	tok genesys.Token
	err error
}

// lookup reads the tenant's cache entry for the fingerprint. It returns nil
// on a miss. When Redis fails it returns Redis' error and whatever the
// in-process memo holds. It does not log Redis failures: refresh does, once
// per refresh rather than once per request.
func (p *Provider) lookup(ctx context.Context, tenantID, fp string) (hit *cached, redisErr error) {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	defer cancel()
	raw, err := p.rdb.Get(rctx, p.tokenKey(tenantID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return p.fromMemo(tenantID, fp), err
	}
	e, ok := decodeEntry(raw, fp)
	if !ok {
		return nil, nil
	}
	now := p.cfg.Now()
	switch {
	case e.Failure != nil && now.Before(time.UnixMilli(e.FailedUntil)):
		return &cached{err: e.Failure.toError()}, nil
	case e.Sealed != "" && now.Before(time.UnixMilli(e.FreshUntil)):
		plain, err := p.sealer.Open(ctx, tenantID, SealField, e.Sealed)
		if err != nil {
			p.log.Warn("genesys token cache: cannot open the cached token; fetching a new one", "tenantId", tenantID, "error", err)
			return nil, nil
		}
		left := time.UnixMilli(e.ExpiresAt).Sub(now)
		return &cached{tok: genesys.Token{AccessToken: plain, TokenType: e.TokenType, ExpiresIn: int(left / time.Second)}}, nil
	}
	return nil, nil
}

func (p *Provider) fromMemo(tenantID, fp string) *cached {
	p.mu.Lock()
	m, ok := p.memo[tenantID]
	p.mu.Unlock()
	now := p.cfg.Now()
	switch {
	case !ok || m.fp != fp:
		return nil
	case m.failure != nil && now.Before(m.failedTill):
		return &cached{err: m.failure.toError()}
	case m.failure == nil && now.Before(m.freshUntil):
		tok := m.token
		tok.ExpiresIn = int(m.expiresAt.Sub(now) / time.Second)
		return &cached{tok: tok}
	}
	return nil
}

// refresh runs once per tenant and fingerprint in this process at a time. It
// takes the tenant's Redis lock, or waits while another replica holds it and
// reads what that replica stored.
func (p *Provider) refresh(ctx context.Context, creds genesys.Credentials, fp string) (genesys.Token, error) {
	lockKey := p.tokenKey(creds.TenantID) + lockKeySuffix
	for {
		hit, err := p.lookup(ctx, creds.TenantID, fp)
		if hit != nil {
			return hit.tok, hit.err
		}
		if err != nil {
			p.log.Warn("genesys token cache unavailable; fetching without it", "tenantId", creds.TenantID, "error", err)
			return p.fetch(ctx, creds, fp, false)
		}
		owner := randomHex()
		rctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
		acquired, err := p.rdb.SetNX(rctx, lockKey, owner, p.cfg.LockTTL).Result()
		cancel()
		if err != nil {
			p.log.Warn("genesys token lock unavailable; fetching without it", "tenantId", creds.TenantID, "error", err)
			return p.fetch(ctx, creds, fp, false)
		}
		if acquired {
			defer p.unlock(lockKey, owner)
			// Another replica may have stored a token and released the
			// lock between the lookup and the lock.
			if hit, _ := p.lookup(ctx, creds.TenantID, fp); hit != nil {
				return hit.tok, hit.err
			}
			return p.fetch(ctx, creds, fp, true)
		}
		t := time.NewTimer(p.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return genesys.Token{}, fmt.Errorf("genesys token for tenant %s: waiting for another replica's refresh: %w", creds.TenantID, ctx.Err())
		case <-t.C:
		}
	}
}

func (p *Provider) unlock(lockKey, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RedisTimeout)
	defer cancel()
	if err := releaseLock.Run(ctx, p.rdb, []string{lockKey}, owner).Err(); err != nil {
		p.log.Warn("genesys token lock not released; it expires by itself", "key", lockKey, "error", err)
	}
}

// fetch asks Genesys and records the outcome in the memo and, when store is
// set, in Redis.
func (p *Provider) fetch(ctx context.Context, creds genesys.Credentials, fp string, store bool) (genesys.Token, error) {
	tok, err := p.fetcher.FetchToken(ctx, creds.Region, creds.ClientID, creds.ClientSecret)
	now := p.cfg.Now()
	if err != nil {
		var ge *genesys.Error
		if !errors.As(err, &ge) {
			return genesys.Token{}, fmt.Errorf("genesys token for tenant %s: %w", creds.TenantID, err)
		}
		ttl := p.cfg.FailureTTL
		if ge.Refused() {
			ttl = p.cfg.RefusalTTL
		}
		ce := &cachedError{HTTPStatus: ge.HTTPStatus, Code: ge.Code, Description: ge.Description, ContextID: ge.ContextID}
		p.remember(creds.TenantID, memoEntry{fp: fp, failure: ce, failedTill: now.Add(ttl)})
		if store {
			p.store(ctx, creds.TenantID, cacheEntry{V: entryVersion, Fingerprint: fp, Failure: ce,
				FailedUntil: now.Add(ttl).UnixMilli()}, ttl)
		}
		return genesys.Token{}, err
	}
	fresh := freshFor(tok.ExpiresIn, p.cfg.ExpiryMargin)
	if fresh == 0 {
		return tok, nil
	}
	expiresAt := now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	p.remember(creds.TenantID, memoEntry{fp: fp, token: tok, expiresAt: expiresAt, freshUntil: now.Add(fresh)})
	if store {
		sealed, err := p.sealer.Seal(ctx, creds.TenantID, SealField, tok.AccessToken)
		if err != nil {
			p.log.Warn("genesys token not cached: sealing failed", "tenantId", creds.TenantID, "error", err)
			return tok, nil
		}
		p.store(ctx, creds.TenantID, cacheEntry{V: entryVersion, Fingerprint: fp, Sealed: sealed, TokenType: tok.TokenType,
			ExpiresAt: expiresAt.UnixMilli(), FreshUntil: now.Add(fresh).UnixMilli(), FetchedAt: now.UnixMilli()}, fresh)
	}
	return tok, nil
}

func (p *Provider) store(ctx context.Context, tenantID string, e cacheEntry, ttl time.Duration) {
	raw, err := json.Marshal(e)
	if err != nil {
		return // cannot happen: plain strings and numbers
	}
	rctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	defer cancel()
	if err := p.rdb.Set(rctx, p.tokenKey(tenantID), raw, ttl).Err(); err != nil {
		p.log.Warn("genesys token cache not written", "tenantId", tenantID, "error", err)
	}
}

func (p *Provider) remember(tenantID string, m memoEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.memo[tenantID] = m
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
