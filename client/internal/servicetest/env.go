// Package servicetest runs the real tenant service for the client's tests:
// it builds the service binary once per test binary from the repository
// that holds the client module, and starts it on a free port with a
// database, Redis key prefix and exchange of its own, removed at cleanup.
// PostgreSQL, Redis and RabbitMQ are found through TEST_DATABASE_URL,
// TEST_REDIS_URL and TEST_AMQP_URL (default: the local ports); a missing one
// fails the test with one line saying what to start.
package servicetest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379"
	defaultAMQPURL     = "amqp://guest:guest@127.0.0.1:5672/"
)

// Name returns a short random name with the prefix, for databases, key
// prefixes and exchanges.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// DatabaseURL returns the URL of the PostgreSQL server (its maintenance
// database).
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_DATABASE_URL", defaultDatabaseURL, "5432", "PostgreSQL",
		"start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
}

// RedisURL returns the URL of the Redis server.
func RedisURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_REDIS_URL", defaultRedisURL, "6379", "Redis", "start it with `redis-server --daemonize yes --port 6379`")
}

// AMQPURL returns the URL of the RabbitMQ broker.
func AMQPURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_AMQP_URL", defaultAMQPURL, "5672", "RabbitMQ", "start it with `rabbitmq-server -detached`")
}

// need returns the URL in envVar (else def) when something answers at its
// address, and otherwise fails the test with one line.
func need(t testing.TB, envVar, def, port, what, how string) string {
	t.Helper()
	raw := os.Getenv(envVar)
	if raw == "" {
		raw = def
	}
	addr, err := HostPort(raw, port)
	if err == nil {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			return raw
		}
	}
	t.Fatalf("%s is not answering at %s (%v): %s, or set %s", what, addr, err, how, envVar)
	return ""
}

// HostPort returns the host:port of a service URL, with the default port
// when it names none.
func HostPort(rawURL, defaultPort string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defaultPort), nil
	}
	return u.Host, nil
}

// freePort returns a TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
