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
	KeyTenant             = "tenant:"             // tenant:{tenantId} → Context JSON
	KeyTenantPhone        = "tenant:phone:"       // tenant:phone:{phoneNumberId} → Context JSON
	KeyTenantIntegration  = "tenant:integration:" // tenant:integration:{integrationId} → Context JSON
	KeyGenesysToken       = "token:genesys:"      // token:genesys:{tenantId}
	KeyWhatsAppToken      = "token:whatsapp:"     // token:whatsapp:{tenantId}
	keyProjectionPosition = "projection:"         // projection:{name}:position, the data-loss marker
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

// GenesysToken returns token:genesys:{tenantId}.
func (k Keys) GenesysToken(id domain.TenantID) string { return k.Prefix + KeyGenesysToken + string(id) }

// WhatsAppToken returns token:whatsapp:{tenantId}.
func (k Keys) WhatsAppToken(id domain.TenantID) string {
	return k.Prefix + KeyWhatsAppToken + string(id)
}

// position returns the marker key holding the projector's last position.
func (k Keys) position(name string) string {
	return k.Prefix + keyProjectionPosition + name + ":position"
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

// setContextScript writes a Context JSON unless the key holds the same
// tenant at a higher version. KEYS[1] key; ARGV: tenant id, version, JSON,
// mode, TTL in ms. Mode "project" (the projector, whose state is current)
// also overwrites another tenant's value and makes a refilled key at the same
// version permanent; mode "fill" (a reader refilling a miss from PostgreSQL)
// only fills a missing key or upgrades the same tenant, with the TTL, so a
// refill that lost a race can never outlive it.
var setContextScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' then
    if obj.tenantId == ARGV[1] then
      local have, want = tonumber(obj.version) or 0, tonumber(ARGV[2])
      if have > want then return 0 end
      if have == want and (ARGV[4] == 'fill' or redis.call('PTTL', KEYS[1]) < 0) then return 0 end
    elseif ARGV[4] == 'fill' then
      return 0
    end
  end
end
if ARGV[4] == 'fill' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
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

// deleteTokenFetchedBeforeScript deletes a cached Genesys token unless it
// says it was fetched at or after ARGV[1] (Unix ms). KEYS[1] key.
var deleteTokenFetchedBeforeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, obj = pcall(cjson.decode, cur)
if ok and type(obj) == 'table' and tonumber(obj.fetchedAt) and tonumber(obj.fetchedAt) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
return 1`)
