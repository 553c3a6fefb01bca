package main

import (
	"context"
	"time"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/genesys/tokencache"
	"tenant-service/messaging"
	"tenant-service/projections"
	"tenant-service/vault"
)

// relayMaxBackoff caps the wait between the relay's retries of a failed
// batch: a retry while RabbitMQ is down costs one batch read, and the
// backlog starts moving within seconds of the broker's return.
const relayMaxBackoff = 2 * time.Second

// idempotencyRetention is how long Idempotency-Keys (and the keys derived
// from Embedded Signup codes and webhook deliveries) are remembered. Meta
// retries a failed webhook delivery for days; a week covers it.
const idempotencyRetention = 7 * 24 * time.Hour

// projectors is what follows the event store asynchronously: the Redis
// read model and the RabbitMQ relay (one leader each across replicas), and
// this replica's own follower.
type projectors struct {
	runner     *projections.Runner
	redisModel *projections.RedisTenants
	relay      *messaging.Relay
	follower   *projections.Follower
	tokens     *tokencache.Provider
	// background runs next to the HTTP server until the context ends.
	background []func(ctx context.Context) error
}

// openProjectors wires the Redis projector, the relay, the
// Genesys token cache and the follower that keeps this replica's caches in
// step with deletions and rotations made elsewhere.
func (a *App) openProjectors() error {
	var err error
	// The follower reads the log once for this process; the projectors that
	// lead here read it from the follower.
	if a.follower, err = projections.NewFollower(a.store, a.notifier, a.log, projections.FollowerConfig{}); err != nil {
		return err
	}
	if a.runner, err = projections.NewRunner(a.pool, a.follower, a.follower, a.log, projections.RunnerConfig{}); err != nil {
		return err
	}
	relayRunner, err := projections.NewRunner(a.pool, a.follower, a.follower, a.log, projections.RunnerConfig{MaxBackoff: relayMaxBackoff})
	if err != nil {
		return err
	}
	if a.redisModel, err = projections.NewRedisTenants(a.rdb, a.tenants, projections.RedisConfig{Prefix: a.cfg.RedisKeyPrefix, Log: a.log}); err != nil {
		return err
	}
	if a.relay, err = messaging.NewRelay(a.cfg.AMQPURL, a.log, messaging.RelayConfig{Exchange: a.cfg.AMQPExchange,
		TracerProvider: a.tracerProvider}); err != nil {
		return err
	}
	a.onClose(func() { _ = a.relay.Close() })
	if err := a.openTokens(); err != nil {
		return err
	}
	a.follower.Handle(forgetSecrets(a.vault, a.tokens))
	a.background = append(a.background, a.notifier.Run, a.follower.Run, a.purgeIdempotency,
		func(ctx context.Context) error { return a.runner.Run(ctx, a.redisModel) },
		func(ctx context.Context) error { return relayRunner.Run(ctx, a.relay) })
	return nil
}

// openTokens builds the Genesys token cache: tokens sealed in Redis.
func (a *App) openTokens() error {
	client, err := genesys.NewClient(genesys.ClientConfig{LoginURL: a.cfg.GenesysLoginURL,
		HTTPClient: a.metrics.upstreamClient("genesys_login", a.outboundTransport())})
	if err != nil {
		return err
	}
	a.tokens, err = tokencache.NewProvider(a.rdb, client, vault.ByStringID{Vault: a.vault},
		tokencache.ProviderConfig{KeyPrefix: a.cfg.RedisKeyPrefix, Logger: a.log})
	return err
}

// forgetSecrets drops this replica's cached data key and Genesys token
// memory of a tenant that another replica deleted, and the token memory of
// one whose credentials were rotated.
func forgetSecrets(v *vault.Vault, tokens *tokencache.Provider) func([]domain.StoredEvent) {
	return func(events []domain.StoredEvent) {
		for _, e := range events {
			switch e.Type {
			case domain.EventTenantDeleted:
				v.Forget(e.TenantID)
				tokens.Forget(string(e.TenantID))
			case domain.EventCredentialsRotated:
				tokens.Forget(string(e.TenantID))
			}
		}
	}
}

// purgeIdempotency forgets old idempotency keys once an hour. Every replica
// may run it: the DELETE is harmless when repeated.
func (a *App) purgeIdempotency(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.store.PurgeIdempotency(ctx, idempotencyRetention); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("purging old idempotency keys failed", "error", err.Error())
			}
		} else if n > 0 {
			a.log.Info("old idempotency keys purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
