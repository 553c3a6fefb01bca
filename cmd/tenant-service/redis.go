package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// openRedis returns a client for REDIS_URL: redis:// or rediss:// for one
// server, or a URL with extra addr= parameters for a cluster.
func openRedis(cfg Config) (redis.UniversalClient, error) {
	if strings.Contains(cfg.RedisURL, "addr=") {
		opts, err := redis.ParseClusterURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a Redis cluster URL: %w", err)
		}
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL is not a Redis URL: %w", err)
	}
	// Fail fast when Redis is down: reads fall back to PostgreSQL.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, time.Second, time.Second
	return redis.NewClient(opts), nil
}
