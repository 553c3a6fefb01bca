package main

import (
	"context"
	"log/slog"
	"time"

	"tenant-service/eventstore"
)

// idempotencyRetention is how long Idempotency-Keys (and the keys derived
// from Embedded Signup codes and webhook deliveries) are remembered. Meta
// retries a failed webhook delivery for days; a week covers it.
const idempotencyRetention = 7 * 24 * time.Hour

// purgeIdempotency forgets old idempotency keys once an hour. Every replica
// may run it: the DELETE is harmless when repeated.
func purgeIdempotency(store *eventstore.Store, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := store.PurgeIdempotency(ctx, idempotencyRetention); err != nil {
				if ctx.Err() == nil {
					log.Warn("purging old idempotency keys failed", "error", err.Error())
				}
			} else if n > 0 {
				log.Info("old idempotency keys purged", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
