// Package testenv gives tests the real PostgreSQL, Redis and RabbitMQ: found
// through TEST_DATABASE_URL, TEST_REDIS_URL and TEST_AMQP_URL (default: the
// local ports), started with testcontainers when nothing answers and a Docker
// engine is available, and otherwise failing the test with one line that says
// what to start. Each test gets its own database, Redis key prefix and
// RabbitMQ names, so tests run in parallel and twice.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"tenant-service/internal/postgres"
	"tenant-service/migrations"
)

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
	defaultAMQPURL     = "amqp://guest:guest@127.0.0.1:5672/"
)

// Name returns a short random name with the prefix, for databases, queues and keys.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func answers(rawURL, defaultPort string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// service is one of the three servers the tests need, found once per test
// binary.
type service struct {
	name, envVar, def, port string
	hint                    func(port string) string // the command that starts it locally
	start                   func(context.Context) (string, error)

	once     sync.Once
	url      string
	err      error
	reported atomic.Bool
}

var (
	pgService = &service{name: "PostgreSQL", envVar: "TEST_DATABASE_URL", def: defaultDatabaseURL, port: "5432",
		hint:  func(string) string { return "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" },
		start: startPostgres}
	redisService = &service{name: "Redis", envVar: "TEST_REDIS_URL", def: defaultRedisURL, port: "6379",
		hint:  func(port string) string { return `redis-server --daemonize yes --port ` + port + ` --save ""` },
		start: startRedis}
	amqpService = &service{name: "RabbitMQ", envVar: "TEST_AMQP_URL", def: defaultAMQPURL, port: "5672",
		hint: func(string) string { return "rabbitmq-server -detached" }, start: startRabbitMQ}
)

// resolve returns the service URL: the environment's value or the default
// when it answers, else a container's.
func (s *service) resolve() (string, error) {
	s.once.Do(func() {
		s.url = os.Getenv(s.envVar)
		if s.url == "" {
			s.url = s.def
		}
		if answers(s.url, s.port) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		u, err := s.start(ctx)
		if err != nil {
			host := hostOf(s.url, s.port)
			_, port, _ := net.SplitHostPort(host)
			s.err = fmt.Errorf("%s is not answering at %s and no Docker engine could start one (%s): start it with `%s`, or set %s",
				s.name, host, firstLine(err), s.hint(port), s.envVar)
			return
		}
		s.url = u
	})
	return s.url, s.err
}

// get returns the service URL or fails the test. The explanation is printed
// by the first test that needs the missing service; the others of the same
// run fail without repeating it.
func (s *service) get(t testing.TB) string {
	t.Helper()
	u, err := s.resolve()
	if err != nil {
		if s.reported.CompareAndSwap(false, true) {
			t.Fatal(err)
		}
		t.FailNow()
	}
	return u
}

// hostOf returns the host:port a service URL points at (no credentials).
func hostOf(rawURL, defaultPort string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return "an unparsable URL"
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// DatabaseURL returns the URL of the PostgreSQL server tests use (the
// maintenance database).
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return pgService.get(t)
}

// RedisURL returns the URL of the Redis server tests use.
func RedisURL(t testing.TB) string {
	t.Helper()
	return redisService.get(t)
}

// AMQPURL returns the URL of the RabbitMQ server tests use.
func AMQPURL(t testing.TB) string {
	t.Helper()
	return amqpService.get(t)
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// migratedTemplate returns the migrated template database every test
// database is copied from. Its name carries a hash of the migrations, so test
// binaries (and later runs) share one template per schema instead of leaving
// one behind each; an advisory lock makes concurrent binaries build it once.
func migratedTemplate(t testing.TB, admin string) string {
	templateOnce.Do(func() {
		templateName, templateErr = ensureTemplate(context.Background(), admin)
	})
	if templateErr != nil {
		t.Fatalf("prepare template database: %v", templateErr)
	}
	return templateName
}

func ensureTemplate(ctx context.Context, admin string) (string, error) {
	sum, err := migrations.Checksum()
	if err != nil {
		return "", err
	}
	name := "ts_tmpl_" + sum[:16]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('tenant-service test template'))`); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('tenant-service test template'))`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// Build under a scratch name and rename when complete, so a template that
	// exists is always fully migrated.
	scratch := Name("ts_build_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, WithDatabase(admin, scratch))
	if err != nil {
		return "", err
	}
	_, err = migrations.Up(ctx, pool, nil)
	pool.Close()
	if err == nil {
		_, err = conn.Exec(ctx, "ALTER DATABASE "+scratch+" RENAME TO "+name)
	}
	if err != nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
		return "", err
	}
	return name, nil
}

// WithDatabase returns the URL with its database name replaced.
func WithDatabase(rawURL, db string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + db
	return u.String()
}

// NewDatabase creates a fresh, migrated database for the test and returns its
// URL; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := DatabaseURL(t)
	tmpl := migratedTemplate(t, admin)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := Name("ts_test_")
	// CREATE DATABASE ... TEMPLATE fails while another session copies the same
	// template; retry briefly.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || i > 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dropAtCleanup(t, admin, name)
	return WithDatabase(admin, name)
}

// MissingDatabase returns the URL of a database that does not exist, for
// code that creates it; it is dropped when the test ends.
func MissingDatabase(t testing.TB) string {
	t.Helper()
	admin := DatabaseURL(t)
	name := Name("ts_test_")
	dropAtCleanup(t, admin, name)
	return WithDatabase(admin, name)
}

// dropAtCleanup drops the database name, if it exists, when the test ends.
func dropAtCleanup(t testing.TB, admin, name string) {
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
}

// NewPool creates a fresh, migrated database and a pool on it, closed at
// cleanup. Its connections are set up as the service's are; configure, when
// given, changes the pool's configuration before it opens.
func NewPool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(NewDatabase(t))
	if err != nil {
		t.Fatalf("parse pool config: %v", err)
	}
	cfg.AfterConnect = postgres.SetUpConn
	for _, f := range configure {
		f(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewRedis returns a client on the test Redis and a key prefix of the test's
// own; the prefix's keys are deleted at cleanup.
func NewRedis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	prefix := RedisPrefix(t, "test:")
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client, prefix
}

// RedisPrefix returns a key prefix of the test's own (starting with start)
// whose keys are deleted when the test ends, after anything registered
// later (such as an app using it) has stopped.
func RedisPrefix(t testing.TB, start string) string {
	t.Helper()
	prefix := Name(start) + ":"
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	t.Cleanup(func() {
		client := redis.NewClient(opts)
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 500 {
				client.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			client.Unlink(ctx, keys...)
		}
	})
	return prefix
}
