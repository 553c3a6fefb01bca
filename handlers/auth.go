package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// Role is what an API key may do.
type Role string

// The roles. admin may do everything, service resolves and fetches secrets,
// auditor reads tenants and history.
const (
	RoleAdmin   Role = "admin"
	RoleService Role = "service"
	RoleAuditor Role = "auditor"
)

// APIKey is a bootstrap API key from API_KEYS.
type APIKey struct {
	Role Role
	Key  string
}

// ParseAPIKeys parses API_KEYS: "role:key" entries separated by commas.
func ParseAPIKeys(s string) ([]APIKey, error) {
	var out []APIKey
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		role, key, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("API_KEYS entry %d: want role:key", i+1)
		}
		switch Role(role) {
		case RoleAdmin, RoleService, RoleAuditor:
		default:
			return nil, fmt.Errorf("API_KEYS entry %d: role %q is not admin, service or auditor", i+1, role)
		}
		if len(key) < 16 {
			return nil, fmt.Errorf("API_KEYS entry %d: key must be at least 16 characters", i+1)
		}
		out = append(out, APIKey{Role: Role(role), Key: key})
	}
	return out, nil
}

// keyring holds API keys hashed; the plaintext keys are not kept.
type keyring struct {
	entries []keyEntry
}

type keyEntry struct {
	hash     [32]byte
	role     Role
	identity string // role + ":" + first 8 hex digits of the key's hash: recorded as the actor
}

func newKeyring(keys []APIKey) *keyring {
	k := &keyring{}
	for _, key := range keys {
		h := sha256.Sum256([]byte(key.Key))
		k.entries = append(k.entries, keyEntry{hash: h, role: key.Role,
			identity: string(key.Role) + ":" + hex.EncodeToString(h[:4])})
	}
	return k
}

// lookup compares the presented key's hash against every stored hash in
// constant time, so timing reveals neither which key nor how much matched.
func (k *keyring) lookup(presented string) (keyEntry, bool) {
	h := sha256.Sum256([]byte(presented))
	var found keyEntry
	ok := 0
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found, ok = e, 1
		}
	}
	return found, ok == 1
}

const (
	ctxActor = "tenant-service.actor"
	ctxRole  = "tenant-service.role"
)

// authenticate requires a bearer key and stores its identity and role.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		c.Header("WWW-Authenticate", `Bearer realm="tenant-service"`)
		s.fail(c, errNoKey)
		return
	}
	e, ok := s.keys.lookup(strings.TrimSpace(token))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="tenant-service", error="invalid_token"`)
		s.fail(c, errBadKey)
		return
	}
	c.Set(ctxActor, e.identity)
	c.Set(ctxRole, e.role)
	if l := s.cfg.KeyLimiter; l != nil {
		if err := l.CheckKey(c.Request.Context(), e.identity, string(e.role)); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.Next()
}

// Errors of authentication.
var (
	errNoKey  = domain.Errorf(domain.KindUnauthorized, "unauthenticated", "an Authorization: Bearer <api key> header is required")
	errBadKey = domain.Errorf(domain.KindUnauthorized, "invalid-api-key", "the API key is not valid")
)

// allow lets the listed roles through (admin always) and refuses others with 403.
func (s *Server) allow(roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		role, _ := c.Get(ctxRole)
		if role == RoleAdmin {
			c.Next()
			return
		}
		for _, r := range roles {
			if role == r {
				c.Next()
				return
			}
		}
		s.fail(c, domain.Errorf(domain.KindForbidden, "forbidden", "the %v role may not use this route", role))
	}
}
