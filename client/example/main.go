// Command example is a small WhatsApp webhook router built on the tenant
// client: it receives Meta's webhook calls, resolves the tenant of each
// change from its metadata.phone_number_id, and answers which tenant each
// change goes to (a real router would hand it to that tenant's pipeline).
//
// Configuration, from the environment:
//
//	TENANT_SERVICE_URL      the tenant service (default http://localhost:3007)
//	TENANT_SERVICE_API_KEY  a service key (required)
//	AMQP_URL                RabbitMQ (default amqp://guest:guest@localhost:5672/)
//	AMQP_EXCHANGE           the service's exchange (default tenant.events)
//	META_APP_SECRET         when set, X-Hub-Signature-256 is checked
//	ADDR                    where to listen (default :8080)
//
// POST /webhooks/whatsapp takes the webhook body. The answer is 200 with
// {"routed": [...], "unknown": [...]} (an unknown number is logged and
// dropped: Meta would retry it forever), or 503 when a tenant could not be
// resolved because the tenant service did not answer, so that Meta retries.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tenant-service/client"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("webhook router stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tenants, err := client.New(startCtx, client.Config{
		BaseURL:  env("TENANT_SERVICE_URL", "http://localhost:3007"),
		APIKey:   os.Getenv("TENANT_SERVICE_API_KEY"),
		AMQPURL:  env("AMQP_URL", "amqp://guest:guest@localhost:5672/"),
		Exchange: env("AMQP_EXCHANGE", client.DefaultExchange),
		Logger:   log,
	})
	cancel()
	if err != nil {
		return err
	}
	defer tenants.Close()

	srv := &http.Server{
		Addr:              env("ADDR", ":8080"),
		Handler:           newRouter(tenants, os.Getenv("META_APP_SECRET"), log),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("webhook router listening", "addr", srv.Addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
