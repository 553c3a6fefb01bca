// Package genesys obtains Genesys Cloud access tokens with the OAuth client
// credentials grant and caches them per tenant.
//
// Client.FetchToken is one POST to https://login.{region}/oauth/token with
// Basic auth. Provider puts a cache in Redis in front of it, under
// token:genesys:{tenantId}: the token is sealed (encrypted) by a Sealer before
// it is stored, kept until ExpiryMargin (5 minutes) before it expires, and
// tagged with a fingerprint of the credentials so a rotated credential never
// gets a stale token. One refresh per tenant runs at a time, within a process
// (singleflight) and across replicas (a Redis lock), so a burst of cold
// requests makes exactly one call to Genesys. Refusals are cached briefly so
// bad credentials do not hammer Genesys. When Redis is down the Provider
// still answers, from Genesys and an in-process fallback cache.
//
// Secrets (client secret, access tokens) never appear in errors or logs.
// The sibling package genesystest is a fake login server for tests.
package genesys
