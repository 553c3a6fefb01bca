package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"tenant-service/eventstore"
	"tenant-service/genesys"
	"tenant-service/handlers"
	"tenant-service/messaging"
	"tenant-service/metagraph"
	"tenant-service/projections"
	"tenant-service/ratelimit"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 25 * time.Second

// relayMaxBackoff caps the wait between the relay's retries of a failed batch.
const relayMaxBackoff = 2 * time.Second

// app is the wired service: what serve runs and what tests drive.
type app struct {
	cfg     Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	relay   *messaging.Relay
	handler http.Handler
	// background tasks run next to the HTTP server until ctx ends.
	background []func(ctx context.Context) error
	closers    []func()
}

// close releases what buildApp opened, in reverse order.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// buildApp connects to the dependencies, migrates and wires the service.
func buildApp(ctx context.Context, cfg Config, log *slog.Logger, console io.Writer) (*app, error) {
	apiKeys, err := apiKeys(cfg, console)
	if err != nil {
		return nil, err
	}
	pool, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, pool: pool, closers: []func(){pool.Close}}

	tenants := projections.NewTenants(pool)
	store := eventstore.New(pool, eventstore.Config{Inline: []eventstore.InlineProjection{tenants}})
	repo := eventstore.NewRepository(store)

	v, err := openVault(pool, cfg, log)
	if err == nil {
		err = checkKeys(ctx, v, cfg, log)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log}) }) // process-wide in go-redis
	rdb, err := openRedis(cfg)
	if err != nil {
		a.close()
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = rdb.Close() })
	gclient, err := genesys.NewClient(genesys.ClientConfig{LoginURL: cfg.GenesysLoginURL})
	if err != nil {
		a.close()
		return nil, err
	}
	tokens, err := genesys.NewProvider(rdb, gclient, sealer{v}, genesys.ProviderConfig{KeyPrefix: cfg.RedisKeyPrefix, Logger: log})
	if err != nil {
		a.close()
		return nil, err
	}
	notifier := eventstore.NewNotifier(pool, log)
	runner, err := projections.NewRunner(pool, store, notifier, log, projections.RunnerConfig{})
	if err != nil {
		a.close()
		return nil, err
	}
	// The relay's retries back off to relayMaxBackoff, not the runner's 15s:
	// a retry while RabbitMQ is down costs one batch read, and the backlog
	// starts moving within seconds of the broker's return.
	relayRunner, err := projections.NewRunner(pool, store, notifier, log, projections.RunnerConfig{MaxBackoff: relayMaxBackoff})
	if err != nil {
		a.close()
		return nil, err
	}
	redisModel, err := projections.NewRedisTenants(rdb, tenants, projections.RedisConfig{Prefix: cfg.RedisKeyPrefix, Log: log})
	if err != nil {
		a.close()
		return nil, err
	}
	relay, err := messaging.NewRelay(cfg.AMQPURL, log, messaging.RelayConfig{Exchange: cfg.AMQPExchange})
	if err != nil {
		a.close()
		return nil, err
	}
	a.relay = relay
	a.closers = append(a.closers, func() { _ = relay.Close() })
	// Every replica follows the feed for what it keeps in memory: a tenant
	// deleted or rotated on another replica leaves no data key or token here.
	follower, err := projections.NewFollower(store, notifier, log, projections.FollowerConfig{})
	if err != nil {
		a.close()
		return nil, err
	}
	follower.Handle(forgetSecrets(v, tokens))
	a.background = append(a.background, notifier.Run, follower.Run, purgeIdempotency(store, log),
		func(ctx context.Context) error { return runner.Run(ctx, redisModel) },
		func(ctx context.Context) error { return relayRunner.Run(ctx, relay) })
	resolver := projections.NewResolver(rdb, cfg.RedisKeyPrefix, tenants, log)
	limiter, err := ratelimit.New(rdb, ratelimit.Config{Prefix: cfg.RedisKeyPrefix, Log: log, KeyLimit: cfg.KeyRateLimit,
		// Platform services resolve on every inbound message; people and dashboards far less.
		RoleLimits: map[string]ratelimit.Limit{string(handlers.RoleService): cfg.ServiceKeyRateLimit}})
	if err != nil {
		a.close()
		return nil, err
	}

	var graph handlers.Graph
	if cfg.MetaAppID != "" && cfg.MetaAppSecret != "" {
		g, err := metagraph.NewClient(metagraph.Config{BaseURL: cfg.MetaGraphURL, Version: cfg.MetaGraphVersion,
			AppID: cfg.MetaAppID, AppSecret: cfg.MetaAppSecret, Timeout: cfg.MetaGraphTimeout})
		if err != nil {
			a.close()
			return nil, err
		}
		graph = g
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newProjectorCollector(runner))
	checks := map[string]handlers.Check{
		"postgres": func(ctx context.Context) error { return pool.Ping(ctx) },
		"redis":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		"rabbitmq": relay.Ping,
	}
	srv, err := handlers.NewServer(handlers.Deps{
		Writer:         writer{repo: repo, shred: v.Destroy},
		Tenants:        tenants,
		History:        history{store: store, repo: repo},
		Checks:         checks,
		Vault:          sealer{v},
		GenesysTokens:  tokens,
		Graph:          graph,
		Webhooks:       tenants,
		Resolver:       resolverAdapter{resolver},
		WhatsAppTokens: resolver,
		Limiter:        limiter,
	}, handlers.Config{APIKeys: apiKeys, Registry: reg, Logger: log, MetaAppID: cfg.MetaAppID,
		MetaAppSecret: cfg.MetaAppSecret, MetaWebhookVerifyToken: cfg.MetaWebhookVerifyToken})
	if err != nil {
		a.close()
		return nil, err
	}
	a.handler = srv
	return a, nil
}

// serve runs the service until ctx ends. When listening is not nil it
// receives the bound address (tests listen on port 0).
func serve(ctx context.Context, cfg Config, log *slog.Logger, console io.Writer, listening func(net.Addr)) error {
	a, err := buildApp(ctx, cfg, log, console)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	if listening != nil {
		listening(ln.Addr())
	}
	httpServer := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	log.Info("tenant service listening", "addr", ln.Addr().String(), "env", cfg.Env)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	for _, task := range a.background {
		g.Go(func() error { return task(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		// In-flight requests finish; new connections are refused.
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		log.Info("shutting down", "grace", shutdownGrace.String())
		return httpServer.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info("stopped")
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
