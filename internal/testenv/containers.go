package testenv

import (
	"context"
	"fmt"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The containers below are started only when no local service answers and a
// Docker engine is reachable. They live as long as the test binary (Ryuk
// removes them afterwards).

func startPostgres(ctx context.Context) (string, error) {
	c, err := tcpostgres.Run(ctx, "postgres:16-alpine",
		tcpostgres.WithDatabase("postgres"), tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies())
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	return c.ConnectionString(ctx, "sslmode=disable")
}

func startRedis(ctx context.Context) (string, error) {
	c, err := tcredis.Run(ctx, "redis:7-alpine")
	if err != nil {
		return "", fmt.Errorf("start redis container: %w", err)
	}
	return c.ConnectionString(ctx)
}

// startRabbitMQ uses a generic container: the rabbitmq module does not build
// against this testcontainers core version.
func startRabbitMQ(ctx context.Context) (string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        "rabbitmq:3.13-alpine",
			ExposedPorts: []string{"5672/tcp"},
			WaitingFor:   wait.ForListeningPort("5672/tcp"),
		},
		Started: true,
	})
	if err != nil {
		return "", fmt.Errorf("start rabbitmq container: %w", err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", err
	}
	port, err := c.MappedPort(ctx, "5672/tcp")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("amqp://guest:guest@%s:%s/", host, port.Port()), nil
}
