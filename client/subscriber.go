package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Message header names the service sets on every event (strings).
const (
	headerTenantID       = "tenant_id"
	headerStreamVersion  = "stream_version"
	headerGlobalPosition = "global_position"
)

// subscription is one broker connection with the client's queue bound and
// consumed.
type subscription struct {
	conn       *amqp.Connection
	queue      string
	deliveries <-chan amqp.Delivery
}

// subscribe connects, declares the client's exclusive queue, binds it with
// "tenant.#" to the exchange (which it never declares: a missing exchange
// is an error, retried by the callers) and starts consuming. When ctx ends
// meanwhile, the connection is closed under it, so a hung broker cannot
// hold the caller longer.
func (c *Client) subscribe(ctx context.Context) (*subscription, error) {
	conn, err := amqp.DialConfig(c.cfg.AMQPURL, amqp.Config{
		Heartbeat:  5 * time.Second,
		Dial:       amqp.DefaultDial(5 * time.Second),
		Properties: amqp.Table{"connection_name": "tenant-service client"},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(c.cfg.AMQPURL), err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	sub, err := c.consume(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return sub, nil
}

func (c *Client) consume(conn *amqp.Connection) (*subscription, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	// Exclusive: deleted by the broker with the connection, so nothing
	// piles up for a client that is gone.
	q, err := ch.QueueDeclare(c.cfg.Queue, false, true, true, false, nil)
	if err != nil {
		return nil, fmt.Errorf("declare queue %q: %w", c.cfg.Queue, err)
	}
	if err := ch.QueueBind(q.Name, BindingKey, c.cfg.Exchange, false, nil); err != nil {
		return nil, fmt.Errorf("bind queue %s to exchange %s: %w", q.Name, c.cfg.Exchange, err)
	}
	deliveries, err := ch.Consume(q.Name, "", false, true, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume queue %s: %w", q.Name, err)
	}
	return &subscription{conn: conn, queue: q.Name, deliveries: deliveries}, nil
}

// subscribeUntil subscribes, retrying with backoff until ctx ends; a broker
// that refuses the credentials or the virtual host is not retried.
func (c *Client) subscribeUntil(ctx context.Context) (*subscription, error) {
	delay := c.cfg.ReconnectDelay
	for {
		sub, err := c.subscribe(ctx)
		if err == nil {
			return sub, nil
		}
		var ae *amqp.Error
		if errors.As(err, &ae) && (ae.Code == amqp.AccessRefused || ae.Code == amqp.NotAllowed) {
			return nil, fmt.Errorf("client: broker refused: %w", err)
		}
		c.log.Debug("tenant client subscribe failed; retrying", "error", err, "retry_in", delay.String())
		t := time.NewTimer(jitter(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("client: subscribe to exchange %s: %w (last error: %v)", c.cfg.Exchange, context.Cause(ctx), err)
		case <-t.C:
		}
		delay = min(2*delay, c.cfg.MaxReconnectDelay)
	}
}

// run applies the messages of sub until the connection is lost, then
// reconnects (backoff) and resynchronises, until Close.
func (c *Client) run(sub *subscription) {
	for {
		c.apply(sub)
		_ = sub.conn.Close()
		if c.ctx.Err() != nil {
			return
		}
		lost := time.Now()
		c.setState(StateDegraded, "reason", "broker connection lost")
		var err error
		delay := c.cfg.ReconnectDelay
		for sub, err = c.subscribe(c.ctx); err != nil; sub, err = c.subscribe(c.ctx) {
			c.log.Debug("tenant client reconnect failed", "error", err, "retry_in", delay.String())
			if !c.sleep(jitter(delay)) {
				return
			}
			delay = min(2*delay, c.cfg.MaxReconnectDelay)
		}
		c.reconnects.Add(1)
		// The queue is bound again: every event from now on reaches it.
		// Those committed while it was gone are read from the feed; until
		// then no entry cached before the loss is served as fresh.
		token := c.cache.MarkStale()
		c.stateMu.Lock()
		c.resyncToken.Store(token) // with the state: resynced compares both
		c.stateMu.Unlock()
		c.setState(StateResyncing, "queue", sub.queue, "disconnected_for", time.Since(lost).Round(time.Millisecond).String())
		c.wg.Go(func() { c.resync(token, lost) })
	}
}

// apply applies every delivery, acknowledging each after it took effect.
func (c *Client) apply(sub *subscription) {
	for {
		select {
		case <-c.ctx.Done():
			return
		case d, ok := <-sub.deliveries:
			if !ok {
				return
			}
			c.handle(d)
		}
	}
}

// handle applies one message: the cache drops what the event could have
// changed before the message is acknowledged.
func (c *Client) handle(d amqp.Delivery) {
	env, err := decodeMessage(d)
	if err != nil {
		// Without its tenant the event cannot be applied: read the feed,
		// which has it, instead of losing it.
		c.log.Error("tenant client: undecodable event message; reading the event feed instead",
			"message_id", d.MessageId, "routing_key", d.RoutingKey, "error", err)
		c.wakeReconcile()
		_ = d.Ack(false)
		return
	}
	c.queueRefresh(c.cache.Apply(env.change()))
	_ = d.Ack(false)
}

// decodeMessage reads the event from a message: tenant, version and
// position from the headers (the body's envelope when a header is missing),
// the ids the event names from the body's data.
func decodeMessage(d amqp.Delivery) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(d.Body, &env); err != nil {
		env = envelope{} // headers alone still say which tenant changed
	}
	if v, ok := d.Headers[headerTenantID].(string); ok && v != "" {
		env.TenantID = v
	}
	if n, ok := headerInt(d.Headers, headerStreamVersion); ok {
		env.Version = n
	}
	if n, ok := headerInt(d.Headers, headerGlobalPosition); ok {
		env.Position = n
	}
	if env.TenantID == "" {
		return env, errors.New("no tenant_id header and no tenantId in the body")
	}
	return env, nil
}

// headerInt reads a header that holds a whole number (a string, as the
// service sends it, or an AMQP integer).
func headerInt(h amqp.Table, name string) (int64, bool) {
	switch v := h[name].(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case int64:
		return v, true
	case int32:
		return int64(v), true
	}
	return 0, false
}

// jitter returns d ± 20%, so clients that lost the same broker do not all
// come back at the same instant.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + time.Duration(rand.Int64N(int64(d)*2/5+1))
}
