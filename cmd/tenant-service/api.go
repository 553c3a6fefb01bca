package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"tenant-service/console"
	"tenant-service/handlers"
	"tenant-service/messaging"
	"tenant-service/metagraph"
	"tenant-service/projections"
	"tenant-service/ratelimit"
	"tenant-service/tenants"
)

// api is the application and the HTTP API over it.
type api struct {
	resolver *projections.Resolver
	memory   *projections.Memory // nil when RESOLVE_CACHE_ENTRIES is 0
	limiter  *ratelimit.Limiter
	service  *tenants.Service
	server   *handlers.Server
}

// openAPI wires the application (the use cases) over the stores and the
// HTTP API over the application.
func (a *App) openAPI() error {
	keys, err := apiKeys(a.cfg, a.console)
	if err != nil {
		return err
	}
	a.resolver = projections.NewResolver(a.rdb, a.cfg.RedisKeyPrefix, a.tenants, a.log)
	var resolver tenants.Resolver = a.resolver
	if a.cfg.ResolveCacheEntries > 0 {
		// The resolve routes answer from memory, kept current by this
		// replica's follower (which openProjectors made and Run starts).
		if a.memory, err = projections.NewMemory(a.resolver, a.follower,
			projections.MemoryConfig{MaxEntries: a.cfg.ResolveCacheEntries, Log: a.log}); err != nil {
			return err
		}
		resolver = a.memory
	}
	if a.limiter, err = ratelimit.New(a.rdb, ratelimit.Config{Prefix: a.cfg.RedisKeyPrefix, Log: a.log, KeyLimit: a.cfg.KeyRateLimit,
		Timeout: a.cfg.RateLimitTimeout,
		// Platform services resolve on every inbound message; people and dashboards far less.
		RoleLimits: map[string]ratelimit.Limit{string(handlers.RoleService): a.cfg.ServiceKeyRateLimit}}); err != nil {
		return err
	}
	deps := tenants.Deps{Store: a.repo, History: a.store, Chain: a.store, Tenants: a.tenants, Resolver: resolver,
		Vault: a.vault, Tokens: a.tokens, Limiter: a.limiter, Observer: a.metrics}
	if a.cfg.MetaAppID != "" && a.cfg.MetaAppSecret != "" {
		if deps.Graph, err = metagraph.NewClient(metagraph.Config{BaseURL: a.cfg.MetaGraphURL, Version: a.cfg.MetaGraphVersion,
			AppID: a.cfg.MetaAppID, AppSecret: a.cfg.MetaAppSecret, Timeout: a.cfg.MetaGraphTimeout,
			HTTPClient: a.metrics.upstreamClient("meta_graph", a.outboundTransport())}); err != nil {
			return err
		}
	}
	if a.service, err = tenants.New(deps, tenants.Config{MetaAppID: a.cfg.MetaAppID, MetaAppSecret: a.cfg.MetaAppSecret,
		MetaWebhookVerifyToken: a.cfg.MetaWebhookVerifyToken, Log: a.log}); err != nil {
		return err
	}
	a.registerRuntime()
	admin, err := console.New(console.Config{MetaAppID: a.cfg.MetaAppID, SignupConfigID: a.cfg.MetaSignupConfigID,
		GraphVersion: a.cfg.MetaGraphVersion})
	if err != nil {
		return err
	}
	a.server, err = handlers.NewServer(a.service, handlers.Config{APIKeys: keys, KeyLimiter: a.limiter, Registry: a.metrics.registry, Logger: a.log,
		AsyncAPI: messaging.AsyncAPI(), TracerProvider: a.tracerProvider, Commits: a.notifier, Console: admin,
		Checks: map[string]handlers.Check{
			"postgres": func(ctx context.Context) error { return a.pool.Ping(ctx) },
			"redis":    func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() },
			"rabbitmq": a.relay.Ping,
		}})
	return err
}

// apiKeys returns the bootstrap keys from API_KEYS; in development without
// any, one admin key is generated, kept in the dev state directory so it
// survives restarts, and printed.
func apiKeys(cfg Config, console io.Writer) ([]handlers.APIKey, error) {
	if cfg.APIKeys != "" {
		keys, err := handlers.ParseAPIKeys(cfg.APIKeys)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, errors.New("API_KEYS holds no keys")
		}
		return keys, nil
	}
	if cfg.Production() {
		return nil, errors.New("API_KEYS is required in production")
	}
	path := filepath.Join(cfg.DevDir, "admin-api-key")
	raw, err := os.ReadFile(path)
	key := strings.TrimSpace(string(raw))
	if err != nil || len(key) < 16 {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generate development API key: %w", err)
		}
		key = "dev_" + base64.RawURLEncoding.EncodeToString(b[:])
		if err := os.MkdirAll(cfg.DevDir, 0o700); err != nil {
			return nil, fmt.Errorf("keep development API key: %w", err)
		}
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("keep development API key: %w", err)
		}
	}
	fmt.Fprintf(console, "development admin API key: %s (kept in %s; set API_KEYS to choose your own)\n", key, path)
	return []handlers.APIKey{{Role: handlers.RoleAdmin, Key: key}}, nil
}

// memoryMetrics reports the resolve memory's counters at scrape time.
func memoryMetrics(m *projections.Memory) []prometheus.Collector {
	stat := func(f func(projections.MemoryStats) float64) func() float64 {
		return func() float64 { return f(m.Stats()) }
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_resolve_memory_hits_total",
			Help: "Resolve lookups answered from this replica's memory."},
			stat(func(s projections.MemoryStats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_resolve_memory_misses_total",
			Help: "Resolve lookups that asked Redis or PostgreSQL: not kept, or memory could not answer for their minPosition."},
			stat(func(s projections.MemoryStats) float64 { return float64(s.Misses) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_resolve_memory_invalidations_total",
			Help: "Kept lookups dropped because an event could have changed them."},
			stat(func(s projections.MemoryStats) float64 { return float64(s.Invalidations) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_resolve_memory_evictions_total",
			Help: "Kept lookups dropped to stay within RESOLVE_CACHE_ENTRIES."},
			stat(func(s projections.MemoryStats) float64 { return float64(s.Evictions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tenant_service_resolve_memory_entries",
			Help: "Lookups kept in memory now, not-found answers included."},
			stat(func(s projections.MemoryStats) float64 { return float64(s.Entries) })),
	}
}
