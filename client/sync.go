package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// feedPageSize is the page size of event feed reads (the service's maximum).
const feedPageSize = 500

// maxCatchUp is the most events a catch-up reads; beyond, reading every
// cached entry again costs less.
const maxCatchUp = 100_000

var (
	errNoStart = errors.New("no known position to read the event feed from")
	errTooFar  = fmt.Errorf("more than %d events to read", maxCatchUp)
)

// catchUp applies every event of the feed after the synced position, page
// by page, advancing the synced position after each page (every event up
// to it has then been applied: the feed never shows an event before the
// ones below it committed). It returns the number of events read.
func (c *Client) catchUp(ctx context.Context) (int, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	pos := c.synced.Load()
	if pos < 0 {
		return 0, errNoStart
	}
	n := 0
	for {
		page, err := c.svc.events(ctx, pos, feedPageSize)
		if err != nil {
			return n, fmt.Errorf("read the event feed after %d: %w", pos, err)
		}
		for _, e := range page.Items {
			c.queueRefresh(c.cache.Apply(e.change()))
			pos = max(pos, e.Position)
		}
		n += len(page.Items)
		c.synced.Store(pos)
		if page.NextCursor == "" || len(page.Items) == 0 {
			return n, nil
		}
		if n >= maxCatchUp {
			return n, errTooFar
		}
	}
}

// restart is the catch-up of last resort, when the feed cannot say what
// was missed: it takes the feed's head as the new start, and expires every
// entry cached so far (they answer again once re-read, and meanwhile only
// as last known good). Every answer asked for afterwards reflects the head.
func (c *Client) restart(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	head, err := c.svc.head(ctx)
	if err != nil {
		return fmt.Errorf("find the head of the event feed: %w", err)
	}
	c.cache.Advance(head)
	c.cache.Expire()
	c.synced.Store(head)
	return nil
}

// learnHead sets the synced position to the feed's head, when the client
// has just subscribed and holds no entry: events after it reach the queue,
// answers reflect the ones before. On failure the position stays unknown
// and lookups read PostgreSQL until a later restart sets it.
func (c *Client) learnHead(ctx context.Context) {
	head, err := c.svc.head(ctx)
	if err != nil {
		c.log.Warn("tenant client: cannot read the head of the event feed; lookups read the service's database until it can",
			"error", err)
		return
	}
	c.cache.Advance(head)
	c.synced.Store(head)
}

// resync brings the cache up to date after a reconnect: it reads the events
// missed since the synced position, then lets the entries cached before the
// loss answer as fresh again. It retries until it succeeds, a newer loss
// supersedes it, or the client closes.
func (c *Client) resync(token uint32, lost time.Time) {
	delay := c.cfg.ReconnectDelay
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 3*c.cfg.RequestTimeout)
		n, err := c.catchUp(ctx)
		if errors.Is(err, errNoStart) || errors.Is(err, errTooFar) {
			how := err.Error()
			if err = c.restart(ctx); err == nil {
				cancel()
				c.resyncs.Add(1)
				c.resynced(token, "resync", "entries cached before are re-read on use: "+how,
					"since_loss", time.Since(lost).Round(time.Millisecond).String())
				return
			}
		}
		cancel()
		if err == nil {
			if c.cache.MarkFresh(token) {
				c.resyncs.Add(1)
				c.resynced(token, "resync", "events read from the feed", "events", n,
					"since_loss", time.Since(lost).Round(time.Millisecond).String())
			}
			return
		}
		level := slog.LevelDebug
		if delay == c.cfg.ReconnectDelay {
			level = slog.LevelWarn // the first failure of this resync
		}
		c.log.Log(context.Background(), level, "tenant client resync failed; entries held over the loss are read again on use until it succeeds",
			"error", err, "retry_in", delay.String())
		if !c.sleep(jitter(delay)) || c.resyncToken.Load() != token {
			return // closed, or a newer loss has its own resync
		}
		delay = min(2*delay, c.cfg.MaxReconnectDelay)
	}
}

// reconcileLoop reads the event feed every ReconcileInterval (and when a
// message could not be decoded), which repairs a lost message (or one the
// service's relay has not published yet) and keeps the catch-up after a
// broker outage short. While the start position is unknown it tries every
// 5 seconds at most.
func (c *Client) reconcileLoop() {
	for {
		wait := c.cfg.ReconcileInterval
		if c.synced.Load() < 0 {
			wait = min(wait, 5*time.Second) // lookups read PostgreSQL until it is known
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.reconcile:
			t.Stop()
		}
		if c.State() != StateConnected {
			continue // a resync is under way or the broker is gone
		}
		ctx, cancel := context.WithTimeout(c.ctx, 3*c.cfg.RequestTimeout)
		_, err := c.catchUp(ctx)
		if errors.Is(err, errNoStart) || errors.Is(err, errTooFar) {
			err = c.restart(ctx)
		}
		cancel()
		if err != nil {
			c.log.Debug("tenant client reconcile failed", "error", err)
		}
	}
}

// wakeReconcile makes the reconcile loop read the feed now.
func (c *Client) wakeReconcile() {
	select {
	case c.reconcile <- struct{}{}:
	default:
	}
}
