package ratelimit

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

// commandCounter counts the script calls a client makes (retries included
// once; connection set-up commands not at all).
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentAddr returns an address that accepts connections and never answers.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestFailOpenWhenRedisUnreachable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		addr   func(*testing.T) string
		direct bool // the client honours context deadlines
	}{
		{"refused", closedAddr, true},
		{"refused/client-timeouts", closedAddr, false},
		{"silent", silentAddr, true},
		{"silent/client-timeouts", silentAddr, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(&redis.Options{Addr: c.addr(t), ContextTimeoutEnabled: c.direct})
			t.Cleanup(func() { rdb.Close() })
			var cmds commandCounter
			rdb.AddHook(&cmds)
			var logs logBuffer
			l, err := New(rdb, Config{Prefix: "unreachable:", Log: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			for i := range 100 {
				callStart := time.Now()
				d, err := l.Allow(context.Background(), APIKey("admin:deadbeef"), Limit{PerSecond: 1, Burst: 1})
				if err != nil || !d.Allowed || !d.Unchecked {
					t.Fatalf("call %d: %+v, %v; want allowed unchecked", i, d, err)
				}
				// The 50ms timeout bounds a call; the bound here is generous.
				if took := time.Since(callStart); took > time.Second {
					t.Fatalf("call %d took %v with a 50ms timeout", i, took)
				}
			}
			if got := cmds.n.Load(); got != 3 {
				t.Errorf("%d script calls sent to a dead Redis, want the failure threshold of 3", got)
			}
			if !l.Degraded() {
				t.Error("not degraded after repeated failures")
			}
			if n := strings.Count(logs.String(), "redis failing"); n != 1 {
				t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
			}
			t.Logf("100 checks against a %s Redis took %v", c.name, time.Since(start))
		})
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	l, err := New(rdb, Config{FailClosed: true, FailureThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the first reaches Redis, the others meet the open breaker
		d, err := l.Allow(context.Background(), Tenant("t1"), Limit{PerSecond: 1, Burst: 1})
		if d.Allowed || !errors.Is(err, ErrUnavailable) || domain.KindOf(err) != domain.KindUnavailable {
			t.Fatalf("call %d: %+v, %v; want refused with an unavailable error", i, d, err)
		}
	}
}

func TestRecoversAfterOutage(t *testing.T) {
	t.Parallel()
	rdb, sw, prefix := newSwitchableClient(t)
	var cmds commandCounter
	rdb.AddHook(&cmds)
	clock := testkit.NewClock()
	var logs logBuffer
	// While up, Redis decides (see slowMachineTimeout); while down, it
	// refuses connections at once.
	l, err := New(rdb, Config{Prefix: prefix, FailureThreshold: 2, Cooldown: time.Second,
		Timeout: slowMachineTimeout, Now: clock.Now, Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{PerSecond: 1, Burst: 100}
	key := APIKey("service:feedface")
	check := func(wantUnchecked bool) {
		t.Helper()
		d := mustAllow(t, l, key, lim)
		if !d.Allowed || d.Unchecked != wantUnchecked {
			t.Fatalf("got %+v, want allowed with unchecked=%v", d, wantUnchecked)
		}
	}

	check(false)
	sw.setDown(true)
	check(true)
	check(true)
	if !l.Degraded() {
		t.Fatal("not degraded after the failure threshold")
	}
	sent := cmds.n.Load()
	check(true) // within the cool-down: Redis is not asked
	if cmds.n.Load() != sent {
		t.Fatal("Redis asked during the cool-down")
	}

	sw.setDown(false)
	check(true) // still cooling down
	clock.Advance(time.Second)
	check(false) // the probe succeeds and closes the breaker
	if l.Degraded() {
		t.Fatal("still degraded after a successful probe")
	}
	out := logs.String()
	if strings.Count(out, "redis failing") != 1 || strings.Count(out, "answering again") != 1 {
		t.Fatalf("want one outage and one recovery message, got:\n%s", out)
	}
}

func TestCallerCancellationIsNotAnOutage(t *testing.T) {
	t.Parallel()
	l, _, _ := newLimiter(t, Config{FailureThreshold: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, err := l.Allow(ctx, Tenant("t-cancel"), Limit{PerSecond: 1, Burst: 5}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v, want context.Canceled", err)
		}
	}
	if l.Degraded() {
		t.Fatal("cancelled calls opened the breaker")
	}
	if d := mustAllow(t, l, Tenant("t-cancel"), Limit{PerSecond: 1, Burst: 5}); !d.Allowed || d.Unchecked {
		t.Fatalf("after cancellations: %+v", d)
	}
}
