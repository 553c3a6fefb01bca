package projections_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testenv"
)

// newProxy starts a TCP proxy in front of target, closed at cleanup. A test
// cuts it to simulate an outage (connections dropped and refused) or pauses
// it to make connections hang.
func newProxy(t testing.TB, target string) *tcpproxy.Proxy {
	t.Helper()
	p, err := tcpproxy.New(target)
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// proxiedRedis returns a proxy in front of the test Redis and a client on
// it with short timeouts and no retries.
func proxiedRedis(t testing.TB) (*tcpproxy.Proxy, redis.UniversalClient) {
	t.Helper()
	u, err := url.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, opts.Addr)
	opts.Addr = p.Addr()
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return p, c
}
