// Package tokencache caches Genesys Cloud access tokens per tenant in Redis,
// under token:genesys:{tenantId}, in front of a genesys.Client.
//
// The token is sealed (encrypted) by a Sealer before it is stored, kept until
// ExpiryMargin (5 minutes) before it expires, and tagged with a fingerprint
// of the credentials so a rotated credential never gets a stale token. One
// refresh per tenant runs at a time, within a process (singleflight) and
// across replicas (a Redis lock), so a burst of cold requests makes exactly
// one call to Genesys. Refusals are cached briefly so bad credentials do not
// hammer Genesys. When Redis is down the Provider still answers, from Genesys
// and an in-process fallback cache.
//
// QueueDrop and QueueDropFetchedBefore are for the Redis read model, which
// drops a tenant's token in the same pipeline as the change that made it
// stale (deletion, credentials rotation).
package tokencache
