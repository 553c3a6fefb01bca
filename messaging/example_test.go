package messaging_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"tenant-service/messaging"
)

// A service that caches tenant data drops its copy whenever the tenant
// changes. (Compiled, not run: it needs a broker.)
func ExampleSubscribe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cache := map[string]int64{} // tenant id → version last applied

	err := messaging.Subscribe(ctx, os.Getenv("AMQP_URL"), messaging.SubscriberConfig{
		Queue:       "state-manager.tenant-events",
		RoutingKeys: []string{messaging.AllEvents},
	}, func(ctx context.Context, env messaging.Envelope) error {
		if int64(env.Version) <= cache[string(env.TenantID)] {
			return nil // seen already: a redelivery
		}
		cache[string(env.TenantID)] = int64(env.Version)
		log.Info("tenant changed", "tenant_id", env.TenantID, "event_type", env.Type, "traceparent", env.Headers["traceparent"])
		return nil
	}, log)
	if err != nil {
		log.Error("subscriber stopped", "error", err)
	}
}

// The relay is wired as a projector: the runner calls Handle with batches
// in position order and stores the checkpoint under Name.
func ExampleNewRelay() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	relay, err := messaging.NewRelay(os.Getenv("AMQP_URL"), log, messaging.RelayConfig{})
	if err != nil {
		log.Error("relay config", "error", err)
		return
	}
	defer relay.Close()
	_ = relay.Name()  // "relay.rabbitmq"
	_ = relay.Ready() // nil once connected: part of /readyz
}
