package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultExchange is the topic exchange the tenant service publishes its
// events on. It is the service's name: changing it here does not change
// where events go.
const DefaultExchange = "tenant.events"

// BindingKey is the routing key the client's queue is bound with: every
// tenant event ("tenant." + the event type in snake case).
const BindingKey = "tenant.#"

// DefaultMaxEntries is the default of Config.MaxEntries: 400,000 entries.
//
// Memory (measured by memory_test.go): a tenant cached under its three keys
// (tenant id, phone number, integration id) takes about 1.15 KB of heap, at
// most 1.2 KB, as its entries share the context's strings and sub-values;
// an entry that shares nothing with another takes at most 0.8 KB; a
// negative entry about 0.25 KB. So the default bound holds 100,000 tenants
// with their three keys each (300,000 entries) without evicting, in about
// 110 MB, and at most 320 MB whatever the entries are.
const DefaultMaxEntries = 400_000

// Config configures a Client. Only BaseURL, APIKey and AMQPURL are
// required; every other field has the default its comment gives.
type Config struct {
	// BaseURL is the tenant service, e.g. "http://tenant-service:3007".
	// Required.
	BaseURL string
	// APIKey is a key of the service role (admin works too). Required.
	APIKey string
	// AMQPURL is the RabbitMQ the service publishes its events on, e.g.
	// "amqp://guest:guest@rabbitmq:5672/". Required.
	AMQPURL string
	// Exchange is the service's topic exchange. Default "tenant.events"
	// (the service's AMQP_EXCHANGE). The client never declares it.
	Exchange string
	// Queue names the client's queue. Default "": a server-named queue.
	// Either way the queue is exclusive (deleted with the connection), so
	// two clients never share one and no queue outlives its client.
	Queue string

	// MaxEntries bounds the cached entries (positive and negative); above
	// it cold entries (not used since the eviction hand last passed) are
	// evicted. Default 400,000 (see DefaultMaxEntries for the memory it
	// means).
	MaxEntries int
	// RequestTimeout bounds one call to the service, whatever the caller's
	// context says. Default 5s.
	RequestTimeout time.Duration
	// HTTPClient makes the calls to the service. Default: a client of its
	// own, keeping up to 64 idle connections to the service.
	HTTPClient *http.Client

	// ReconnectDelay is the first wait before reconnecting to RabbitMQ;
	// it doubles after each failure up to MaxReconnectDelay. Defaults
	// 100ms and 2s.
	ReconnectDelay, MaxReconnectDelay time.Duration
	// ReconcileInterval is how often the client reads the service's event
	// feed (GET /api/events) from the last position it knows it has
	// applied, to catch a lost message and to keep the read after a broker
	// outage short. Default 1m.
	ReconcileInterval time.Duration
	// Prefetch is how many messages RabbitMQ may send before the client
	// acknowledges. Default 256.
	Prefetch int
	// RefreshWorkers is how many goroutines re-read, in the background,
	// the entries an event dropped that had been used. 0 means the
	// default, 4; -1 turns refreshing off (dropped entries are read again
	// on their next lookup).
	RefreshWorkers int

	// Logger receives one line per change of the client's state
	// (connected, resyncing, degraded, ...). Default: discard.
	Logger *slog.Logger
}

// Validate reports every missing or malformed field.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"BaseURL", c.BaseURL}, {"AMQPURL", c.AMQPURL}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("client: %s is required", f.name))
			continue
		}
		if u, err := url.Parse(f.value); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("client: %s must be an absolute URL, not %q", f.name, redact(f.value)))
		}
	}
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("client: APIKey is required (a key of the service role)"))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxEntries", c.MaxEntries}, {"Prefetch", c.Prefetch}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("client: %s must be 0 (default) or more, not %d", f.name, f.v))
		}
	}
	if c.RefreshWorkers < -1 {
		errs = append(errs, fmt.Errorf("client: RefreshWorkers must be -1 (off), 0 (default) or more, not %d", c.RefreshWorkers))
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"RequestTimeout", c.RequestTimeout}, {"ReconnectDelay", c.ReconnectDelay},
		{"MaxReconnectDelay", c.MaxReconnectDelay}, {"ReconcileInterval", c.ReconcileInterval}} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("client: %s must be 0 (default) or more, not %s", f.name, f.d))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns the config with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Exchange == "" {
		c.Exchange = DefaultExchange
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 64, 64
		c.HTTPClient = &http.Client{Transport: t}
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = 100 * time.Millisecond
	}
	if c.MaxReconnectDelay == 0 {
		c.MaxReconnectDelay = 2 * time.Second
	}
	c.MaxReconnectDelay = max(c.MaxReconnectDelay, c.ReconnectDelay)
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Minute
	}
	if c.Prefetch == 0 {
		c.Prefetch = 256
	}
	if c.RefreshWorkers == 0 {
		c.RefreshWorkers = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// redact returns the URL without its password, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
