package client

import (
	"context"
	"log/slog"
)

// State is where the client stands with the event feed.
type State string

// The states a client goes through. Each change is logged once.
const (
	// StateConnecting: New is subscribing.
	StateConnecting State = "connecting"
	// StateConnected: subscribed; every entry is fresh.
	StateConnected State = "connected"
	// StateDegraded: the broker connection is lost. Lookups answer from
	// memory (entries may miss changes made meanwhile) while the client
	// reconnects.
	StateDegraded State = "degraded"
	// StateResyncing: subscribed again; entries cached before the loss are
	// re-checked against the service before they are served as fresh.
	StateResyncing State = "resyncing"
	// StateClosed: Close was called.
	StateClosed State = "closed"
)

// State returns the client's state.
func (c *Client) State() State {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state
}

// setState moves to s and logs it, with attrs, when it is a change.
func (c *Client) setState(s State, attrs ...any) {
	c.stateMu.Lock()
	prev := c.state
	c.state = s
	c.stateMu.Unlock()
	c.logState(prev, s, attrs)
}

// resynced moves from resyncing to connected, unless the resync of token
// was overtaken by a newer loss of the broker.
func (c *Client) resynced(token uint32, attrs ...any) {
	c.stateMu.Lock()
	prev := c.state
	ok := prev == StateResyncing && c.resyncToken.Load() == token
	if ok {
		c.state = StateConnected
	}
	c.stateMu.Unlock()
	if ok {
		c.logState(prev, StateConnected, attrs)
	}
}

func (c *Client) logState(prev, s State, attrs []any) {
	if prev == s {
		return
	}
	level := slog.LevelInfo
	if s == StateDegraded {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "tenant client "+string(s), append([]any{"state", string(s), "previous", string(prev)}, attrs...)...)
}

// setServiceDown records whether the tenant service answers, logging each
// change.
func (c *Client) setServiceDown(down bool, err error) {
	if c.serviceDown.Swap(down) == down {
		return
	}
	if down {
		c.log.Warn("tenant service unavailable; lookups of cached ids answer from memory", "error", err)
	} else {
		c.log.Info("tenant service available again")
	}
}
