package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"tenant-service/genesys/tokencache"
	"tenant-service/internal/testenv"
	"tenant-service/internal/testkit"
	"tenant-service/messaging"
	"tenant-service/projections"
)

// leakSpot is one thing the service wrote or answered: a database row, a
// Redis key and value, a RabbitMQ message, a log line or a response.
type leakSpot struct {
	where string // e.g. "postgres public.tenants"
	text  string
}

// leakSecret is a plaintext secret and the encodings it could hide in: a JSON
// byte slice (base64), a bytea column (hex).
type leakSecret struct {
	name     string
	variants []string
}

func newLeakSecret(name, plain string) leakSecret {
	b := []byte(plain)
	return leakSecret{name: name, variants: []string{plain, base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b)}}
}

// found reports the first leakSpot holding one of s's variants.
func (s leakSecret) found(in []leakSpot) (leakSpot, string, bool) {
	for _, h := range in {
		for _, v := range s.variants {
			if strings.Contains(h.text, v) {
				return h, v, true
			}
		}
	}
	return leakSpot{}, "", false
}

// leakExcerpt shows where v sits in text, without dumping a whole table row.
func leakExcerpt(text, v string) string {
	i := strings.Index(text, v)
	from, to := max(0, i-120), min(len(text), i+len(v)+120)
	return text[from:to]
}

func leakHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// leakLogs collects the app's log output from many goroutines.
type leakLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *leakLogs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *leakLogs) lines() []leakSpot {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []leakSpot
	for i, line := range strings.Split(b.buf.String(), "\n") {
		if line != "" {
			out = append(out, leakSpot{where: fmt.Sprintf("log line %d", i+1), text: line})
		}
	}
	return out
}

// eventCapture is a private queue bound to the event exchange with
// tenant.#, holding every message the relay published while it existed.
type eventCapture struct {
	conn  *amqp.Connection
	ch    *amqp.Channel
	queue string
	mu    sync.Mutex
	msgs  []amqp.Delivery
}

// captureEvents gives the app started with env an event exchange of the
// test's own (AMQP_EXCHANGE) and binds a fresh queue to it with tenant.#.
// The queue and the exchange are deleted when the test ends, after the app stopped (cleanups run last in,
// first out).
func captureEvents(t *testing.T, env map[string]string) *eventCapture {
	t.Helper()
	ex := testenv.Name("leaktest.events.")
	env["AMQP_EXCHANGE"] = ex
	conn, err := amqp.Dial(env["AMQP_URL"])
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	c := &eventCapture{conn: conn, ch: ch, queue: testenv.Name("leaktest.")}
	// Declared the way any consumer declares it: plain, durable, topic.
	if err := ch.ExchangeDeclare(ex, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatalf("declare exchange: %v", err)
	}
	if _, err := ch.QueueDeclare(c.queue, false, false, true, false, nil); err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	if err := ch.QueueBind(c.queue, messaging.AllEvents, ex, false, nil); err != nil {
		t.Fatalf("bind queue: %v", err)
	}
	deliveries, err := ch.Consume(c.queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	go func() {
		for d := range deliveries {
			c.mu.Lock()
			c.msgs = append(c.msgs, d)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(c.queue, false, false, false)
		_ = ch.ExchangeDelete(ex, false, false)
		_ = conn.Close()
	})
	return c
}

// messages returns every message so far as text: properties, headers, body.
func (c *eventCapture) messages() ([]leakSpot, map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]bool{}
	var out []leakSpot
	for _, d := range c.msgs {
		ids[d.MessageId] = true
		keys := make([]string, 0, len(d.Headers))
		for k := range d.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var h strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&h, "%s=%v ", k, d.Headers[k])
		}
		out = append(out, leakSpot{where: "rabbitmq message " + d.RoutingKey + " " + d.MessageId,
			text: fmt.Sprintf("id=%s corr=%s type=%s app=%s ct=%s user=%s reply=%s headers: %s body: %s",
				d.MessageId, d.CorrelationId, d.Type, d.AppId, d.ContentType, d.UserId, d.ReplyTo, h.String(), d.Body)})
	}
	return out, ids
}

// dumpDatabase returns every row of every table outside the system schemas.
func dumpDatabase(t *testing.T, pool *pgxpool.Pool) []leakSpot {
	t.Helper()
	ctx := t.Context()
	rows, err := pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []pgx.Identifier
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, pgx.Identifier{schema, name})
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var out []leakSpot
	for _, table := range tables {
		rows, err := pool.Query(ctx, "SELECT row_to_json(t)::text FROM "+table.Sanitize()+" t")
		if err != nil {
			t.Fatalf("dump %s: %v", table.Sanitize(), err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("dump %s: %v", table.Sanitize(), err)
		}
		for _, text := range texts {
			out = append(out, leakSpot{where: "postgres " + strings.Join(table, "."), text: text})
		}
	}
	return out
}

// dumpRedis returns every key under the prefix, every unprefixed token:*
// key, and every key anywhere that names one of the tenants (a key written
// without the prefix), with their values.
func dumpRedis(t *testing.T, rdb *redis.Client, prefix string, tenantIDs []string) []leakSpot {
	t.Helper()
	ctx := t.Context()
	patterns := []string{prefix + "*", tokencache.TokenKey("", "*"), projections.KeyWhatsAppToken + "*"}
	for _, id := range tenantIDs {
		patterns = append(patterns, "*"+id+"*")
	}
	seen := map[string]bool{}
	var out []leakSpot
	for _, p := range patterns {
		iter := rdb.Scan(ctx, 0, p, 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, leakSpot{where: "redis " + key, text: key + " = " + redisValue(ctx, rdb, key)})
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("scan redis: %v", err)
		}
	}
	return out
}

func redisValue(ctx context.Context, rdb *redis.Client, key string) string {
	var v any
	var err error
	switch typ, _ := rdb.Type(ctx, key).Result(); typ {
	case "string":
		v, err = rdb.Get(ctx, key).Result()
	case "hash":
		v, err = rdb.HGetAll(ctx, key).Result()
	case "list":
		v, err = rdb.LRange(ctx, key, 0, -1).Result()
	case "set":
		v, err = rdb.SMembers(ctx, key).Result()
	case "zset":
		v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "stream":
		v, err = rdb.XRange(ctx, key, "-", "+").Result()
	default:
		v = "(type " + typ + ")"
	}
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return fmt.Sprint(v)
}

// leakCheck fails the test for every secret found anywhere.
func leakCheck(t *testing.T, secrets []leakSecret, all []leakSpot) {
	t.Helper()
	for _, s := range secrets {
		for _, h := range all {
			if _, v, ok := s.found([]leakSpot{h}); ok {
				t.Errorf("plaintext %s leaked into %s: …%s…", s.name, h.where, leakExcerpt(h.text, v))
			}
		}
	}
}

// requireSeen fails unless every channel captured what it must have, so an
// empty dump cannot pass for a clean one: the tenant's id, and in the logs
// an access log line.
func requireSeen(t *testing.T, channels map[string][]leakSpot, tenantID string) {
	t.Helper()
	for name, hs := range channels {
		marker := tenantID
		if name == "logs" {
			marker = `"msg":"request"`
		}
		if !slices.ContainsFunc(hs, func(h leakSpot) bool { return strings.Contains(h.text, marker) }) {
			t.Errorf("%s: %d entries, none holds %s: the capture is broken", name, len(hs), marker)
		}
	}
}

// leakRedis returns a client on the Redis at rawURL which, when the test
// ends, deletes every key with the prefix (the app has stopped by then when
// this is called before startApp: cleanups run last in, first out).
func leakRedis(t testing.TB, rawURL, prefix string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		for iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return rdb
}

// collectChannels gathers everything the service wrote or answered.
func collectChannels(t *testing.T, l *leakRecorder, q *eventCapture, logs *leakLogs, rdb *redis.Client, prefix string, tenantIDs []string) map[string][]leakSpot {
	t.Helper()
	msgs, _ := q.messages()
	return map[string][]leakSpot{
		"postgres":  dumpDatabase(t, l.a.app.pool),
		"redis":     dumpRedis(t, rdb, prefix, tenantIDs),
		"rabbitmq":  msgs,
		"logs":      logs.lines(),
		"responses": l.answers,
	}
}

// proveDetector plants a canary in every channel the way a leak would land
// there and checks that the search finds it in each: the test can fail.
func proveDetector(t *testing.T, l *leakRecorder, q *eventCapture, logs *leakLogs, rdb *redis.Client, prefix, tenantID, sfx string) {
	t.Helper()
	ctx := t.Context()
	canary := newLeakSecret("canary", "leak-canary-"+sfx)
	value := canary.variants[0]
	if _, err := l.a.app.pool.Exec(ctx, `CREATE TABLE leak_canary (v text); INSERT INTO leak_canary VALUES ('`+value+`')`); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, prefix+"leak:canary", "v", []byte(value)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.ch.PublishWithContext(ctx, "", q.queue, false, false, amqp.Publishing{MessageId: "canary",
		Headers: amqp.Table{"x-canary": value}, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	l.a.app.log.Debug("canary", "value", value)
	l.call(200, "PATCH", "/api/tenants/"+tenantID, adminKey, `{"name":"`+value+`"}`)
	testkit.Eventually(t, 10*time.Second, func() error {
		if _, ids := q.messages(); !ids["canary"] {
			return errorf("canary message not received")
		}
		return nil
	})
	for name, hs := range collectChannels(t, l, q, logs, rdb, prefix, []string{tenantID}) {
		if _, _, ok := canary.found(hs); !ok {
			t.Errorf("the search missed a secret planted in %s: it could not see a leak there", name)
		}
	}
}
