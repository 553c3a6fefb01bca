package tenants_test

import (
	"testing"

	"tenant-service/internal/archtest"
)

// The application reaches its dependencies through the interfaces it
// declares: it imports no database, cache or broker client, no HTTP
// framework, and none of the adapters that implement its ports.
func TestApplicationImportsNoAdapter(t *testing.T) {
	archtest.Forbid(t, "tenant-service/tenants",
		"github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9", "github.com/rabbitmq/amqp091-go",
		"github.com/gin-gonic/gin", "github.com/ThreeDotsLabs/watermill", "tenant-service/eventstore",
		"tenant-service/projections", "tenant-service/messaging", "tenant-service/vault", "tenant-service/ratelimit",
		"tenant-service/handlers", "tenant-service/internal/postgres")
}
