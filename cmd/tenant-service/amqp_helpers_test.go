package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"tenant-service/eventstore"
	"tenant-service/internal/tcpproxy"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/messaging"
	"tenant-service/projections"
)

// useExchange gives the app started with env an exchange of the test's own
// (AMQP_EXCHANGE) and deletes it at cleanup (after the app stopped, as cleanups run last-in first-out).
func useExchange(t testing.TB, env map[string]string) {
	t.Helper()
	exchange, broker := testenv.Name("test.events."), testenv.AMQPURL(t)
	env["AMQP_EXCHANGE"] = exchange
	t.Cleanup(func() {
		conn, err := amqp.Dial(broker)
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(exchange, false, false)
		}
	})
}

// delivery is a message as the tap received it, with its arrival time.
type delivery struct {
	amqp.Delivery
	at time.Time
}

// eventTap is a durable queue of the test's own, bound with "tenant.#" to
// the exchange in env (straight to the broker, never through a proxy) and
// consumed raw, so duplicates and AMQP properties stay visible.
type eventTap struct {
	mu  sync.Mutex
	got []delivery
}

func bindTap(t testing.TB, env map[string]string) *eventTap {
	t.Helper()
	exchange := env["AMQP_EXCHANGE"]
	conn, err := amqp.Dial(testenv.AMQPURL(t))
	if err != nil {
		t.Fatalf("tap: dial: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("tap: channel: %v", err)
	}
	queue := testenv.Name("test.q.")
	// Declared the way any consumer declares it, before or after the relay: plain.
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatalf("tap: declare exchange: %v", err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatalf("tap: declare queue: %v", err)
	}
	if err := ch.QueueBind(queue, messaging.AllEvents, exchange, false, nil); err != nil {
		t.Fatalf("tap: bind queue: %v", err)
	}
	msgs, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatalf("tap: consume: %v", err)
	}
	tap := &eventTap{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range msgs {
			tap.mu.Lock()
			tap.got = append(tap.got, delivery{Delivery: d, at: time.Now()})
			tap.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = conn.Close()
		<-done
	})
	return tap
}

// deliveries returns what arrived so far, in arrival order.
func (tp *eventTap) deliveries() []delivery {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]delivery(nil), tp.got...)
}

// waitAll waits (bounded) until every event of the list arrived at least once.
func (tp *eventTap) waitAll(t *testing.T, within time.Duration, events []committed) {
	t.Helper()
	testkit.Eventually(t, within, func() error {
		seen := map[string]bool{}
		for _, d := range tp.deliveries() {
			seen[d.MessageId] = true
		}
		for _, e := range events {
			if !seen[e.id] {
				return errorf("event %s (%s v%d at %d) not delivered; %d messages so far", e.id, e.typ, e.version, e.position, len(seen))
			}
		}
		return nil
	})
}

// committed is an event as the event store holds it.
type committed struct {
	id, tenant, typ   string
	version, position int64
}

// committedEvents returns every committed event, in position order.
func committedEvents(t testing.TB, pool *pgxpool.Pool) []committed {
	t.Helper()
	events, err := eventstore.NewReader(pool).ReadAll(context.Background(), 0, 1<<30, eventstore.Filter{})
	if err != nil {
		t.Fatalf("read the event store: %v", err)
	}
	out := make([]committed, len(events))
	for i, e := range events {
		out[i] = committed{id: e.EventID, tenant: string(e.TenantID), typ: e.Type, version: int64(e.Version), position: int64(e.Position)}
	}
	return out
}

// openPool opens a pool on the test database of env, closed at cleanup.
func openPool(t testing.TB, env map[string]string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// progress returns a projector's checkpoint and last error, and the head.
func progress(t testing.TB, pool *pgxpool.Pool, projector string) (checkpoint, head int64, lastError string) {
	t.Helper()
	ctx := context.Background()
	// The checkpoint first: a head read after it is never below it.
	err := pool.QueryRow(ctx, `SELECT COALESCE(max(position), 0), COALESCE(max(last_error), '')
		FROM projector_checkpoints WHERE subscriber = $1`, projector).Scan(&checkpoint, &lastError)
	if err != nil {
		t.Fatalf("progress of %s: %v", projector, err)
	}
	h, err := eventstore.NewReader(pool).HeadPosition(ctx)
	if err != nil {
		t.Fatalf("progress of %s: %v", projector, err)
	}
	return checkpoint, int64(h), lastError
}

// leaderHeld reports whether some session holds the projector's lock.
func leaderHeld(t testing.TB, pool *pgxpool.Pool, projector string) bool {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT classid::bigint, objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil {
		t.Fatalf("read pg_locks: %v", err)
	}
	var hi, lo int64
	held := false
	_, err = pgx.ForEachRow(rows, []any{&hi, &lo}, func() error {
		held = held || int64(uint64(hi)<<32|uint64(lo)) == projections.LockKey(projector)
		return nil
	})
	if err != nil {
		t.Fatalf("read pg_locks: %v", err)
	}
	return held
}

// startStoppable is startApp with a stop function that shuts the app down
// early (as SIGTERM would); cleanup stops it otherwise.
func startStoppable(t testing.TB, env map[string]string) (*testApp, func()) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.RunBackground(ctx) })
	srv := httptest.NewServer(a.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			cancel()
			wg.Wait()
			a.Close()
		})
	}
	t.Cleanup(stop)
	return &testApp{t: t, app: a, srv: srv, env: env}, stop
}

// proxyURL starts a TCP proxy in front of the host of rawURL (closed at
// cleanup) and returns it with the URL pointing at it.
func proxyURL(t testing.TB, rawURL string) (*tcpproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		t.Fatalf("proxy: %q has no host:port", rawURL)
	}
	p, err := tcpproxy.New(net.JoinHostPort(u.Hostname(), u.Port()))
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	return p, u.String()
}

// redisFor returns a client on the test Redis (not through any proxy) and
// the key builder of env's prefix, whose keys are deleted at cleanup.
func redisFor(t testing.TB, env map[string]string) (redis.UniversalClient, projections.Keys) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := redis.NewClient(opts), env["REDIS_KEY_PREFIX"]
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return rdb, projections.Keys{Prefix: prefix}
}
