package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

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
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL is not a Redis URL: %w", err)
	}
	// Fail fast when Redis is down: reads fall back to PostgreSQL.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, time.Second, time.Second
	opts.ContextTimeoutEnabled = true // per-call deadlines (the resolver's 75 ms) free the connection
	return redis.NewClient(opts), nil
}
