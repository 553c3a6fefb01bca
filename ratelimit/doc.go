// Package ratelimit limits requests per API key and per tenant with Redis.
//
// Each bucket is one Redis key, {prefix}ratelimit:key:{keyIdentity} or
// {prefix}ratelimit:tenant:{tenantId}, updated by one Lua script that runs
// the generic cell rate algorithm (GCRA): the key holds the bucket's
// theoretical arrival time in microseconds of Redis server time, so a check
// is atomic, costs one round trip, touches one key (safe on Redis Cluster) and
// gives the same answer on every replica of the service whatever their clocks
// say. Keys expire once their bucket is full again.
//
// Redis being down or slow must not take the API down with it: by default the
// Limiter fails open (allows the request, marked Unchecked), bounds every call
// with a short timeout, and after a few failures in a row stops calling Redis
// for a cool-down so an outage adds no latency. It logs once when it starts
// and once when it stops failing open.
package ratelimit
