package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"tenant-service/domain"
)

// DefaultKeyLimit is the per-API-key limit when Config.KeyLimit is zero.
var DefaultKeyLimit = Limit{PerSecond: 100, Burst: 200}

// DefaultTimeout bounds each Redis call when Config.Timeout is zero.
const DefaultTimeout = 50 * time.Millisecond

// Config tunes a Limiter.
type Config struct {
	// Prefix starts every key (REDIS_KEY_PREFIX). Default empty.
	Prefix string
	// KeyLimit is the limit of every API key whose role has no entry in
	// RoleLimits. Default DefaultKeyLimit (100/s, burst 200); a negative
	// PerSecond turns per-key limiting off.
	KeyLimit Limit
	// RoleLimits overrides KeyLimit per role ("admin", "service",
	// "auditor"). Default none.
	RoleLimits map[string]Limit
	// TenantLimit applies to tenants without their own settings.rateLimit.
	// Default zero: such tenants are not limited per tenant.
	TenantLimit Limit
	// Timeout bounds each Redis call. Default DefaultTimeout.
	Timeout time.Duration
	// FailClosed refuses requests with a KindUnavailable error (503) when
	// Redis cannot be asked. Default false: fail open, allowing them.
	FailClosed bool
	// FailureThreshold is how many Redis failures in a row stop the Limiter
	// from calling Redis for Cooldown. Default 3.
	FailureThreshold int
	// Cooldown is how long Redis is skipped after FailureThreshold failures,
	// before one probe call. Default 2s.
	Cooldown time.Duration
	// Log receives one warning when Redis starts failing and one message when
	// it recovers. Default: discarded.
	Log *slog.Logger
	// Now is the circuit breaker's clock (limits use Redis server time).
	// Default time.Now.
	Now func() time.Time
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	check := func(name string, l Limit) {
		if l.PerSecond > domain.MaxRatePerSecond {
			errs = append(errs, fmt.Errorf("%s: per second must be at most %d", name, domain.MaxRatePerSecond))
		}
		if l.Burst < 0 || l.Burst > domain.MaxRateBurst {
			errs = append(errs, fmt.Errorf("%s: burst must be between 0 and %d", name, domain.MaxRateBurst))
		}
	}
	check("key limit", c.KeyLimit)
	check("tenant limit", c.TenantLimit)
	for role, l := range c.RoleLimits {
		check("limit of role "+role, l)
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if c.FailureThreshold < 0 {
		errs = append(errs, errors.New("failure threshold must not be negative"))
	}
	if c.Cooldown < 0 {
		errs = append(errs, errors.New("cooldown must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.KeyLimit == (Limit{}) {
		c.KeyLimit = DefaultKeyLimit
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = 3
	}
	if c.Cooldown == 0 {
		c.Cooldown = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
