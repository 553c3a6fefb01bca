package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/tracing"
	"tenant-service/projections"
	"tenant-service/vault"
)

// stores are the service's stateful dependencies: PostgreSQL (the event
// store, its inline read model, the data keys) and Redis.
type stores struct {
	pool    *pgxpool.Pool
	tenants *projections.Tenants // the PostgreSQL read model, written with every append
	vault   *vault.Vault
	store   *eventstore.Store
	repo    *eventstore.Repository
	rdb     redis.UniversalClient
	// notifier wakes this process's readers of the event feed.
	notifier *eventstore.Notifier
}

// openStores opens the database (created and migrated when needed), the
// vault (refusing or warning about missing keys), the event store with the
// read model and the vault's crypto-shredding inline, and Redis; with
// tracing on, queries, appends and Redis calls under a request are spans.
func (a *App) openStores(ctx context.Context) error {
	var configure []func(*pgxpool.Config)
	if a.tracerProvider != nil {
		configure = append(configure, a.traceDatabase)
	}
	pool, err := openDatabase(ctx, a.cfg, a.log, configure...)
	if err != nil {
		return err
	}
	a.pool = pool
	a.onClose(pool.Close)
	if a.vault, err = openVault(pool, a.cfg, a.log); err != nil {
		return err
	}
	if err := checkKeys(ctx, a.vault, a.cfg, a.log); err != nil {
		return err
	}
	a.tenants = projections.NewTenants(pool)
	// Readers in this process wake on every commit, without waiting for
	// the NOTIFY that other replicas wake on.
	a.notifier = eventstore.NewNotifier(pool, a.log)
	a.store, err = eventstore.New(pool, a.tenants, eventstore.Config{
		Inline: []eventstore.InlineProjection{vault.Shredder{Vault: a.vault}},
		Committed: func(events []domain.StoredEvent) {
			a.notifier.Poke()
			a.metrics.appendedEvents(events)
		},
		GroupCommitted: a.metrics.groupCommitted,
		TracerProvider: tracing.ContinueOnly(a.tracerProvider)})
	if err != nil {
		return err
	}
	a.repo = eventstore.NewRepository(a.store, a.tenants)
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{a.log}) }) // process-wide in go-redis
	if a.rdb, err = openRedis(a.cfg); err != nil {
		return err
	}
	a.onClose(func() { _ = a.rdb.Close() })
	if a.tracerProvider != nil {
		return a.traceRedis(a.rdb)
	}
	return nil
}

// openVault builds the vault from ENCRYPTION_KEYS, or in development without
// keys from a generated key kept in the dev state directory (with a warning).
func openVault(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*vault.Vault, error) {
	var ring *vault.Keyring
	var err error
	if cfg.EncryptionKeys != "" {
		ring, err = vault.ParseKeyring(cfg.EncryptionKeys, cfg.EncryptionActiveKey)
		if err != nil {
			return nil, fmt.Errorf("ENCRYPTION_KEYS: %w", err)
		}
	} else {
		if cfg.Production() {
			return nil, fmt.Errorf("ENCRYPTION_KEYS is required in production")
		}
		path := filepath.Join(cfg.DevDir, "encryption.key")
		var created bool
		ring, created, err = vault.DevKeyring(path)
		if err != nil {
			return nil, fmt.Errorf("development encryption key: %w", err)
		}
		log.Warn("ENCRYPTION_KEYS is not set: using a development key kept in a local file; set ENCRYPTION_KEYS outside development",
			"path", path, "created", created)
	}
	return vault.New(pool, ring, vault.Config{})
}

// checkKeys makes sure every stored data key can be opened: a key-encryption
// key that wraps live data keys but is missing from ENCRYPTION_KEYS stops a
// production start (naming it) and is a warning in development; a retired
// key still configured is a warning, and a retired active key stops the start.
func checkKeys(ctx context.Context, v *vault.Vault, cfg Config, log *slog.Logger) error {
	rep, err := v.CheckKeys(ctx)
	if err != nil {
		return err
	}
	problems := rep.Problems()
	if rep.ActiveRetired {
		problems = append(problems, fmt.Sprintf("ENCRYPTION_ACTIVE_KEY %q was retired: choose another active key", v.Keyring().ActiveID()))
	}
	if len(problems) > 0 && cfg.Production() {
		return errors.New(strings.Join(problems, "; "))
	}
	for _, p := range problems {
		log.Warn(p)
	}
	if len(rep.Retired) > 0 {
		log.Warn("ENCRYPTION_KEYS holds retired keys, which wrap no data key: remove them and destroy them", "keys", rep.Retired)
	}
	return nil
}

// redisLog routes go-redis's own messages (dial failures while Redis is
// down, which the resolver already reports once) to the structured log at
// debug level.
type redisLog struct{ log *slog.Logger }

var redisLogOnce sync.Once

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// openRedis returns a client for REDIS_URL: redis:// or rediss:// for one
// server, or a URL with extra addr= parameters for a cluster.
func openRedis(cfg Config) (redis.UniversalClient, error) {
	if strings.Contains(cfg.RedisURL, "addr=") {
		opts, err := redis.ParseClusterURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a Redis cluster URL: %w", err)
		}
		opts.ContextTimeoutEnabled = true
		sizeRedisBuffers(&opts.ReadBufferSize, &opts.WriteBufferSize, &opts.PipelineReadBufferSize, &opts.PipelineWriteBufferSize)
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL is not a Redis URL: %w", err)
	}
	// Fail fast when Redis is down: reads fall back to PostgreSQL.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, time.Second, time.Second
	opts.ContextTimeoutEnabled = true // per-call deadlines (the resolver's 75 ms) free the connection
	sizeRedisBuffers(&opts.ReadBufferSize, &opts.WriteBufferSize, &opts.PipelineReadBufferSize, &opts.PipelineWriteBufferSize)
	return redis.NewClient(opts), nil
}

// sizeRedisBuffers sizes go-redis's per-connection buffers for what the
// service sends and reads: tenant contexts of a few hundred bytes, and
// projector pipelines of at most a batch of them. The defaults (32 KiB each
// way per connection, 128 KiB for pipeline connections) held more heap than
// the service's tenants at 10,000 of them; a URL that sets a size keeps it.
func sizeRedisBuffers(read, write, pipeRead, pipeWrite *int) {
	for _, b := range []struct {
		size *int
		want int
	}{{read, 8 << 10}, {write, 8 << 10}, {pipeRead, 32 << 10}, {pipeWrite, 32 << 10}} {
		if *b.size == 0 {
			*b.size = b.want
		}
	}
}
