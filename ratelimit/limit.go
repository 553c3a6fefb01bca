package ratelimit

import (
	"math"
	"strconv"
	"time"

	"tenant-service/domain"
)

// Redis key shapes, each after the deployment's REDIS_KEY_PREFIX. Renaming
// one resets every bucket of that kind (the old keys expire on their own).
const (
	KeyAPIKey = "ratelimit:key:"    // ratelimit:key:{keyIdentity} → GCRA arrival time (µs)
	KeyTenant = "ratelimit:tenant:" // ratelimit:tenant:{tenantId} → GCRA arrival time (µs)
)

// APIKey returns the bucket name of an API key, by its identity (role and
// hash prefix, never the key itself). Pass it to Limiter.Allow.
func APIKey(identity string) string { return KeyAPIKey + identity }

// Tenant returns the bucket name of a tenant. Pass it to Limiter.Allow.
func Tenant(id domain.TenantID) string { return KeyTenant + string(id) }

// Limit is a token bucket: PerSecond requests a second on average, up to
// Burst at once after a quiet spell. PerSecond of 0 or less means no limit;
// Burst below 1 counts as 1.
type Limit struct {
	PerSecond int
	Burst     int
}

// FromDomain returns the tenant's own limit from its settings; ok is false
// when the tenant has none.
func FromDomain(r *domain.RateLimit) (l Limit, ok bool) {
	if r == nil {
		return Limit{}, false
	}
	return Limit{PerSecond: r.PerSecond, Burst: r.Burst}, true
}

// Unlimited reports whether the limit lets everything through.
func (l Limit) Unlimited() bool { return l.PerSecond <= 0 }

func (l Limit) burst() int { return max(l.Burst, 1) }

// interval is the emission interval in microseconds: the time one request's
// token takes to come back.
func (l Limit) interval() float64 { return 1e6 / float64(l.PerSecond) }

// Decision is the outcome of one check.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// RetryAfter is, when refused, how long until one request would pass.
	RetryAfter time.Duration
	// Remaining is how many more requests would pass right now.
	Remaining int
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
	// Limit is the limit that was applied (zero when none applied).
	Limit Limit
	// Unchecked reports that Redis could not be asked and the Limiter failed
	// open: Allowed is true but says nothing about the limit.
	Unchecked bool
}

// RetryAfterSeconds returns RetryAfter in whole seconds rounded up, at least
// 1: the value of the Retry-After header of a 429.
func (d Decision) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(d.RetryAfter.Seconds())))
}

// Err returns nil when the request is allowed, else a domain error of kind
// KindRateLimited (429) with code "rate-limited" whose RetryAfter is
// RetryAfterSeconds (the Retry-After header).
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &domain.Error{Kind: domain.KindRateLimited, Code: "rate-limited",
		Detail:     "too many requests; retry after " + strconv.Itoa(d.RetryAfterSeconds()) + " s",
		RetryAfter: time.Duration(d.RetryAfterSeconds()) * time.Second}
}
