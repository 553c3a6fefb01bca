package handlers_test

import (
	"testing"

	"tenant-service/internal/archtest"
)

// The HTTP layer talks to the application only: no database, cache or
// broker client, no adapter.
func TestHandlersKnowNoAdapter(t *testing.T) {
	archtest.Forbid(t, "tenant-service/handlers",
		"github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9", "github.com/rabbitmq/amqp091-go",
		"github.com/ThreeDotsLabs/watermill", "tenant-service/eventstore", "tenant-service/projections",
		"tenant-service/messaging", "tenant-service/vault", "tenant-service/ratelimit", "tenant-service/internal/postgres")
}

// The handler tests use a fake application, so they run with no PostgreSQL,
// Redis or RabbitMQ reachable: nothing they build can talk to one.
func TestHandlerTestsNeedNoService(t *testing.T) {
	archtest.ForbidInTests(t, "tenant-service/handlers",
		"github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9", "github.com/rabbitmq/amqp091-go",
		"tenant-service/internal/testenv")
}
