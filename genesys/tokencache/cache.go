package tokencache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"tenant-service/genesys"
)

// Redis key shapes. Persisted and shared with other services (PRODUCT.md):
// renaming one orphans cached tokens and splits the lock between versions.
const (
	tokenKeyPrefix = "token:genesys:" // + tenantId: the sealed token or a cached failure
	lockKeySuffix  = ":lock"          // token key + this: the refresh lock
)

// SealField names the access token to the Sealer (for example in its
// associated data). Persisted inside sealed values: changing it makes cached
// tokens unreadable, which costs one refetch per tenant.
const SealField = "genesys.accessToken"

// entryVersion is the format of cached values. Persisted: bump it when the
// format changes; values of another version are ignored (refetched).
const entryVersion = 1

// fingerprint identifies the credentials a cached value was obtained with.
// The secret is part of it (hashed, truncated) so that even a Version that
// was not bumped cannot serve a token of replaced credentials.
func fingerprint(c genesys.Credentials) string {
	h := sha256.New()
	for _, part := range []string{"genesys-token-v1", c.ClientID, c.Region, c.Version, c.ClientSecret} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// cacheEntry is the JSON value under token:genesys:{tenantId}: either a
// sealed token or a failure, both for one credentials fingerprint.
type cacheEntry struct {
	V           int    `json:"v"`
	Fingerprint string `json:"fp"`
	Sealed      string `json:"token,omitempty"` // Sealer output; never the plaintext
	TokenType   string `json:"tokenType,omitempty"`
	ExpiresAt   int64  `json:"expiresAt,omitempty"`  // Unix ms: the token's own expiry
	FreshUntil  int64  `json:"freshUntil,omitempty"` // Unix ms: serve it until then
	// FetchedAt (Unix ms) lets the Redis read model drop only tokens fetched
	// before a credentials rotation, not one fetched with the new credentials.
	FetchedAt   int64        `json:"fetchedAt,omitempty"`
	Failure     *cachedError `json:"failure,omitempty"`
	FailedUntil int64        `json:"failedUntil,omitempty"` // Unix ms
}

// cachedError is what is kept of a failure: Genesys' own words, no secret.
type cachedError struct {
	HTTPStatus  int    `json:"status"`
	Code        string `json:"code,omitempty"`
	Description string `json:"description"`
	ContextID   string `json:"contextId,omitempty"`
}

func (c *cachedError) toError() *genesys.Error {
	return &genesys.Error{HTTPStatus: c.HTTPStatus, Code: c.Code, Description: c.Description, ContextID: c.ContextID, Cached: true}
}

func decodeEntry(raw []byte, fp string) (cacheEntry, bool) {
	var e cacheEntry
	if json.Unmarshal(raw, &e) != nil || e.V != entryVersion || e.Fingerprint != fp {
		return cacheEntry{}, false
	}
	return e, true
}

// memoEntry is the in-process fallback for when Redis is down; it holds the
// plaintext token, which never leaves the process.
type memoEntry struct {
	fp         string
	token      genesys.Token
	expiresAt  time.Time
	freshUntil time.Time
	failure    *cachedError
	failedTill time.Time
}

// freshFor is how long a token that lives expiresIn seconds is served:
// until margin before it expires, but never beyond half its life, so a
// short-lived token (Genesys allows 300 s) is still cached and every caller
// gets at least half of its lifetime. Zero means do not cache.
func freshFor(expiresIn int, margin time.Duration) time.Duration {
	life := time.Duration(expiresIn) * time.Second
	fresh := life - margin
	if fresh < life/2 {
		fresh = life / 2
	}
	if fresh < time.Second {
		return 0
	}
	return fresh
}
