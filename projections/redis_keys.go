package projections

import (
	"strings"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

// Redis key shapes, each after the deployment's REDIS_KEY_PREFIX. Other
// services read these keys: renaming one breaks them, and leaves the old keys
// behind until a rebuild.
const (
	KeyTenant            = "tenant:"             // tenant:{tenantId} → Context JSON
	KeyTenantPhone       = "tenant:phone:"       // tenant:phone:{phoneNumberId} → Context JSON
	KeyTenantIntegration = "tenant:integration:" // tenant:integration:{integrationId} → Context JSON
	KeyWhatsAppToken     = "token:whatsapp:"     // token:whatsapp:{tenantId}
	keyProjection        = "projection:"         // projection:{name}:position and projection:{name}:versions
)

// Keys builds the Redis keys of one deployment.
type Keys struct {
	Prefix string // REDIS_KEY_PREFIX; default empty
}

// Tenant returns tenant:{id}.
func (k Keys) Tenant(id domain.TenantID) string { return k.Prefix + KeyTenant + string(id) }

// Phone returns tenant:phone:{phoneNumberId}.
func (k Keys) Phone(phoneNumberID string) string { return k.Prefix + KeyTenantPhone + phoneNumberID }

// Integration returns tenant:integration:{integrationId}.
func (k Keys) Integration(integrationID string) string {
	return k.Prefix + KeyTenantIntegration + integrationID
}

// WhatsAppToken returns token:whatsapp:{tenantId}.
func (k Keys) WhatsAppToken(id domain.TenantID) string {
	return k.Prefix + KeyWhatsAppToken + string(id)
}

// position returns the marker key holding the last global position the
// projector applied: the Redis model's applied position. Readers compare it
// with minPosition; the projector compares it with its checkpoint to notice
// a Redis that lost data or was restored from an older copy.
func (k Keys) position(name string) string {
	return k.Prefix + keyProjection + name + ":position"
}

// versions returns the hash (field: tenant id, value: stream version) of the
// version of each tenant the projector last wrote. A refill from PostgreSQL
// of an older version is refused, so it can neither overwrite the
// projector's newer value nor bring back a key the projector removed.
func (k Keys) versions(name string) string {
	return k.Prefix + keyProjection + name + ":versions"
}

// tenantPattern matches every tenant context and lookup key of the prefix.
func (k Keys) tenantPattern() string { return globEscape(k.Prefix) + KeyTenant + "*" }

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// projectContextScript is the projector's write of a Context JSON: it
// replaces the value unless the key holds the same tenant at a higher
// version, and makes a refilled key at the same version permanent. KEYS[1]
// key; ARGV: tenant id, version, JSON.
var projectContextScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and obj.tenantId == ARGV[1] then
    local have, want = tonumber(obj.version) or 0, tonumber(ARGV[2])
    if have > want then return 0 end
    if have == want and redis.call('PTTL', KEYS[1]) < 0 then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`)

// fillScript writes a value read from PostgreSQL (a reader refilling a miss)
// with a TTL. It refuses when the projector already wrote a newer version of
// the tenant (KEYS[2], the versions hash): the value would be older than
// what the model shows, or name a lookup the projector removed. Otherwise it
// only fills a missing key or upgrades the same tenant's older value, so a
// refill that lost a race can never outlive the projector's write. KEYS[1]
// key, KEYS[2] versions hash; ARGV: tenant id, version, JSON, TTL in ms.
var fillScript = redis.NewScript(`
local applied = redis.call('HGET', KEYS[2], ARGV[1])
if applied and tonumber(applied) > tonumber(ARGV[2]) then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' then
    if obj.tenantId ~= ARGV[1] then return 0 end
    if (tonumber(obj.version) or 0) >= tonumber(ARGV[2]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1`)

// deleteIfOwnerScript deletes a lookup key only while it still points at the
// tenant. KEYS[1] key; ARGV[1] tenant id.
var deleteIfOwnerScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, obj = pcall(cjson.decode, cur)
if ok and type(obj) == 'table' and obj.tenantId == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`)
