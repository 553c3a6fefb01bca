package ratelimit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/internal/testenv"
)

// newLimiter returns a Limiter on the test Redis with a prefix of the test's own.
func newLimiter(t testing.TB, cfg Config) (*Limiter, redis.UniversalClient, string) {
	t.Helper()
	rdb, prefix := testenv.NewRedis(t)
	cfg.Prefix = prefix
	cfg.Timeout = cmp.Or(cfg.Timeout, slowMachineTimeout)
	l, err := New(rdb, cfg)
	if err != nil {
		t.Fatalf("new limiter: %v", err)
	}
	return l, rdb, prefix
}

// slowMachineTimeout bounds the Redis calls of the limiters tests build
// unless a test sets its own. A call past the 50 ms default fails open (an
// unchecked decision), as one can on a loaded machine, and these tests are
// about the buckets Redis keeps, not that timeout (failopen_test.go is).
const slowMachineTimeout = 5 * time.Second

// mustAllow runs one check and fails the test on an error.
func mustAllow(t testing.TB, l *Limiter, key string, lim Limit) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, lim)
	if err != nil {
		t.Fatalf("allow %s: %v", key, err)
	}
	return d
}

// switchable is a Redis dialer that refuses connections while down and
// otherwise dials the real test Redis; going down cuts open connections.
type switchable struct {
	addr string
	down atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func (s *switchable) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	if s.down.Load() {
		return nil, errors.New("dial refused: redis is down (test)")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, s.addr)
	if err == nil {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
	return c, err
}

// setDown takes Redis down (closing every open connection) or brings it back.
func (s *switchable) setDown(down bool) {
	s.down.Store(down)
	if !down {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// newSwitchableClient returns a client on the test Redis through a switchable
// dialer, with a fresh key prefix deleted at cleanup.
func newSwitchableClient(t testing.TB) (*redis.Client, *switchable, string) {
	t.Helper()
	_, prefix := testenv.NewRedis(t) // registers the cleanup of prefix's keys
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	sw := &switchable{addr: opts.Addr}
	opts.Dialer = sw.dial
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client, sw, prefix
}

// logBuffer is a goroutine-safe JSON log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(b, nil)) }
