package messaging

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// session is one relay connection with its confirm-mode channels. It is
// used until it breaks and then thrown away whole: a new session redeclares
// the topology and starts delivery tags afresh.
type session struct {
	conn  *amqp.Connection
	chans []*amqp.Channel

	once sync.Once
	done chan struct{} // closed when the connection or any channel closed
	err  error         // why; written before done is closed
}

// dial connects, makes sure the exchange exists and opens the publishing channels.
func dial(url string, cfg RelayConfig) (*session, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(RelayName)
	conn, err := amqp.DialConfig(url, amqp.Config{
		Heartbeat:  cfg.Heartbeat,
		Dial:       coalescingDial(cfg.DialTimeout),
		Properties: props,
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s := &session{conn: conn, done: make(chan struct{})}
	if err := s.open(cfg); err != nil {
		_ = conn.CloseDeadline(time.Now().Add(time.Second))
		return nil, err
	}
	s.watch(conn.NotifyClose(make(chan *amqp.Error, 1)), "connection")
	for _, ch := range s.chans {
		s.watch(ch.NotifyClose(make(chan *amqp.Error, 1)), "channel")
	}
	return s, nil
}

// coalescingDial dials as amqp091-go does (a deadline on the handshake),
// then coalesces the connection's writes (see coalescingConn).
func coalescingDial(timeout time.Duration) func(network, addr string) (net.Conn, error) {
	dial := amqp.DefaultDial(timeout)
	return func(network, addr string) (net.Conn, error) {
		c, err := dial(network, addr)
		if err != nil {
			return nil, err
		}
		return newCoalescingConn(c, coalesceMaxPending), nil
	}
}

func (s *session) open(cfg RelayConfig) error {
	if err := ensureExchange(s.conn, cfg.Exchange); err != nil {
		return err
	}
	for range cfg.Channels {
		ch, err := s.conn.Channel()
		if err != nil {
			return fmt.Errorf("open channel: %w", err)
		}
		if err := ch.Confirm(false); err != nil {
			return fmt.Errorf("enable publisher confirms: %w", err)
		}
		s.chans = append(s.chans, ch)
	}
	return nil
}

// watch ends the session when the connection or channel closes. A channel
// closed by the broker (say, the exchange was deleted) takes the connection
// with it, so that reconnecting redeclares the topology.
func (s *session) watch(closed chan *amqp.Error, what string) {
	go func() {
		amqpErr, ok := <-closed
		if !ok || amqpErr == nil {
			s.fail(fmt.Errorf("%w: %s closed", ErrNotConnected, what))
			return
		}
		s.fail(fmt.Errorf("%w: %s closed: %w", ErrNotConnected, what, amqpErr))
	}()
}

// fail ends the session (once) and closes its connection without waiting
// for the broker: with a deadline already passed, even a write blocked on a
// broker that stopped reading returns at once.
func (s *session) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
		go func() { _ = s.conn.CloseDeadline(time.Now()) }()
	})
}

// broken returns the session's error once it has ended, else nil.
func (s *session) broken() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

var errRelayClosed = fmt.Errorf("%w: relay closed", ErrNotConnected)

// supervise keeps a session open until ctx ends, reconnecting with backoff.
func (r *Relay) supervise(ctx context.Context) {
	defer close(r.done)
	delay := r.cfg.ReconnectDelay
	for {
		s, err := dial(r.url, r.cfg)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrNotConnected, err)
			r.setSession(nil, err)
			r.log.Warn("rabbitmq connection failed", "error", err.Error(), "retry_in", delay.String())
			if !sleep(ctx, delay) {
				r.setSession(nil, errRelayClosed)
				return
			}
			delay = min(delay*2, r.cfg.MaxReconnectDelay)
			continue
		}
		delay = r.cfg.ReconnectDelay
		r.setSession(s, nil)
		r.log.Info("rabbitmq connected", "channels", len(s.chans))
		select {
		case <-ctx.Done():
			r.setSession(nil, errRelayClosed)
			s.once.Do(func() { s.err = errRelayClosed; close(s.done) })
			_ = s.conn.CloseDeadline(time.Now().Add(2 * time.Second))
			return
		case <-s.done:
			r.setSession(nil, s.err)
			r.log.Warn("rabbitmq connection lost", "error", s.err.Error())
		}
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
