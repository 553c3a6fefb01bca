package tokencache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// TokenKey returns the Redis key of a tenant's cached token after the
// deployment's key prefix: token:genesys:{tenantId}.
func TokenKey(prefix, tenantID string) string { return prefix + tokenKeyPrefix + tenantID }

// QueueDrop queues, in the caller's pipeline, the removal of the tenant's
// cached token: for a deleted tenant.
func QueueDrop(ctx context.Context, pipe redis.Pipeliner, prefix, tenantID string) {
	pipe.Del(ctx, TokenKey(prefix, tenantID))
}

// QueueDropFetchedBefore queues, in the caller's pipeline, the removal of
// the tenant's cached token unless it was fetched at or after t: after a
// credentials rotation at t only a token of the old credentials is stale,
// not one a request already fetched with the new ones.
func QueueDropFetchedBefore(ctx context.Context, pipe redis.Pipeliner, prefix, tenantID string, t time.Time) {
	// Eval, not EvalSha: a Redis that restarted has forgotten loaded scripts.
	dropFetchedBeforeScript.Eval(ctx, pipe, []string{TokenKey(prefix, tenantID)}, t.UnixMilli())
}

// dropFetchedBeforeScript deletes a cached token unless its entry says it
// was fetched at or after ARGV[1] (Unix ms). KEYS[1] key.
var dropFetchedBeforeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, obj = pcall(cjson.decode, cur)
if ok and type(obj) == 'table' and tonumber(obj.fetchedAt) and tonumber(obj.fetchedAt) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
return 1`)
