package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/messaging"
	"tenant-service/projections"
	"tenant-service/ratelimit"
)

// maxWatchedTenants bounds METRICS_TENANTS: every tenant named adds a few
// series per command and outcome.
const maxWatchedTenants = 100

// serviceMetrics are the service's Prometheus metrics, on a registry of its
// own that /metrics serves. Names follow Prometheus' conventions
// (tenant_service_ prefix, _total counters, _seconds durations).
//
// Per-tenant series exist only for the tenants METRICS_TENANTS names (an
// opt-in list, at most 100): tenants come and go by the thousand, and a
// label per tenant would grow the series without bound; an operator names
// the tenants worth watching (the largest, one under investigation). The
// totals over all tenants are always there.
type serviceMetrics struct {
	registry *prometheus.Registry

	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	tenantCommands  *prometheus.CounterVec
	appended        *prometheus.CounterVec
	upstream        *prometheus.HistogramVec
	groupDuration   prometheus.Histogram
	groupAppends    prometheus.Histogram
	watched         map[domain.TenantID]bool
}

func newServiceMetrics(cfg Config) *serviceMetrics {
	m := &serviceMetrics{registry: prometheus.NewRegistry(), watched: map[domain.TenantID]bool{}}
	for _, id := range cfg.MetricsTenants {
		m.watched[id] = true
	}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenant_service_commands_total",
		Help: "Commands by name (create, update, link_whatsapp, ...) and outcome (applied, unchanged, duplicate, or the error kind)."},
		[]string{"command", "outcome"})
	m.commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tenant_service_command_duration_seconds",
		Help:    "How long commands took, from the service's start of the command to its answer.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"command"})
	m.tenantCommands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenant_service_tenant_commands_total",
		Help: "Commands of the tenants METRICS_TENANTS names, by tenant, command and outcome."},
		[]string{"tenant", "command", "outcome"})
	m.appended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenant_service_events_appended_total",
		Help: "Events this replica appended, by type."}, []string{"type"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tenant_service_upstream_request_duration_seconds",
		Help:    "Calls to Meta's Graph API (meta_graph) and Genesys Cloud's login (genesys_login) by outcome: ok, 4xx, 5xx or error (no answer).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"upstream", "outcome"})
	m.groupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tenant_service_group_commit_duration_seconds",
		Help: "Group commits' transactions, from taking a connection to the commit's answer (WAL flush included): " +
			"the database's share of every command in the group.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}})
	m.groupAppends = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tenant_service_group_commit_appends",
		Help:    "Appends (commands' writes) committed together by one group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64}})
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.commands, m.commandDuration, m.tenantCommands, m.appended, m.upstream, m.groupDuration, m.groupAppends)
	return m
}

// Command records a command (the application's Observer).
func (m *serviceMetrics) Command(command string, tenant domain.TenantID, outcome string, took time.Duration) {
	m.commands.WithLabelValues(command, outcome).Inc()
	m.commandDuration.WithLabelValues(command).Observe(took.Seconds())
	if m.watched[tenant] {
		m.tenantCommands.WithLabelValues(string(tenant), command, outcome).Inc()
	}
}

// appendedEvents counts the events of a commit (the event store's Committed).
func (m *serviceMetrics) appendedEvents(events []domain.StoredEvent) {
	for _, e := range events {
		m.appended.WithLabelValues(e.Type).Inc()
	}
}

// groupCommitted records a group commit (the event store's GroupCommitted).
func (m *serviceMetrics) groupCommitted(appends int, took time.Duration) {
	m.groupDuration.Observe(took.Seconds())
	m.groupAppends.Observe(float64(appends))
}

// parseTenantList reads METRICS_TENANTS: tenant ids, comma-separated.
func parseTenantList(s string) ([]domain.TenantID, error) {
	var out []domain.TenantID
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := domain.ParseTenantID(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a tenant id", part)
		}
		out = append(out, id)
	}
	if len(out) > maxWatchedTenants {
		return nil, fmt.Errorf("names %d tenants; at most %d", len(out), maxWatchedTenants)
	}
	return out, nil
}

// registerRuntime adds the metrics read from the running parts at scrape
// time: projectors (position, lag in events and seconds, leadership),
// where resolves were answered, and rate-limit refusals.
func (a *App) registerRuntime() {
	reg := a.metrics.registry
	reg.MustRegister(newProjectorCollector(a.runner, a.store))
	resolves := func(source string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_resolves_total",
			Help:        "Resolve lookups by the source that answered: memory (this replica's), redis or postgres.",
			ConstLabels: prometheus.Labels{"source": source}}, func() float64 { return float64(f()) })
	}
	reg.MustRegister(
		resolves("redis", func() uint64 { r, _ := a.resolver.Answers(); return r }),
		resolves("postgres", func() uint64 { _, p := a.resolver.Answers(); return p }))
	if a.memory != nil {
		reg.MustRegister(resolves("memory", func() uint64 { return a.memory.Stats().Hits }))
		reg.MustRegister(memoryMetrics(a.memory)...)
	}
	relay := func(name, help string, kind prometheus.ValueType, f func(messaging.RelayStats) float64) prometheus.Collector {
		opts := prometheus.Opts{Name: name, Help: help}
		read := func() float64 { return f(a.relay.Stats()) }
		if kind == prometheus.GaugeValue {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts), read)
		}
		return prometheus.NewCounterFunc(prometheus.CounterOpts(opts), read)
	}
	reg.MustRegister(
		relay("tenant_service_relay_published_total", "Events this replica's relay published (a retried event counts each time).",
			prometheus.CounterValue, func(s messaging.RelayStats) float64 { return float64(s.Published) }),
		relay("tenant_service_relay_confirmed_total", "Events the broker confirmed.",
			prometheus.CounterValue, func(s messaging.RelayStats) float64 { return float64(s.Confirmed) }),
		relay("tenant_service_relay_nacked_total", "Events the broker refused (negative confirm); the relay sends them again.",
			prometheus.CounterValue, func(s messaging.RelayStats) float64 { return float64(s.Nacked) }),
		relay("tenant_service_relay_in_flight", "Events published and waiting for the broker's confirm.",
			prometheus.GaugeValue, func(s messaging.RelayStats) float64 { return float64(s.InFlight) }))
	refusals := func(scope string, f func(*ratelimit.Limiter) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenant_service_rate_limit_refusals_total",
			Help:        "Requests refused with 429, by the limit that refused them: key (the API key's) or tenant (the tenant's own).",
			ConstLabels: prometheus.Labels{"scope": scope}}, func() float64 { return float64(f(a.limiter)) })
	}
	reg.MustRegister(
		refusals("key", func(l *ratelimit.Limiter) uint64 { k, _ := l.Refusals(); return k }),
		refusals("tenant", func(l *ratelimit.Limiter) uint64 { _, t := l.Refusals(); return t }))
}

// projectorCollector reports each projector's checkpoint, head and lag at
// scrape time, from the same query as `projections status`, and how old the
// oldest event it has not handled is.
type projectorCollector struct {
	runner                 *projections.Runner
	store                  *eventstore.Store
	position, lag, leaders *prometheus.Desc
	lagSeconds, head       *prometheus.Desc
}

func newProjectorCollector(r *projections.Runner, store *eventstore.Store) *projectorCollector {
	return &projectorCollector{runner: r, store: store,
		position:   prometheus.NewDesc("tenant_service_projector_position", "Last global position the projector handled.", []string{"projector"}, nil),
		lag:        prometheus.NewDesc("tenant_service_projector_lag_events", "Events committed but not yet handled by the projector.", []string{"projector"}, nil),
		lagSeconds: prometheus.NewDesc("tenant_service_projector_lag_seconds", "Age of the oldest event the projector has not handled; 0 when it is at the head.", []string{"projector"}, nil),
		leaders:    prometheus.NewDesc("tenant_service_projector_leader", "1 while some replica holds the projector's lock.", []string{"projector"}, nil),
		head:       prometheus.NewDesc("tenant_service_event_store_head_position", "Global position of the last committed event.", nil, nil),
	}
}

func (c *projectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.position, c.lag, c.lagSeconds, c.leaders, c.head} {
		ch <- d
	}
}

func (c *projectorCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	list, err := c.runner.Status(ctx)
	if err != nil {
		return // a scrape while PostgreSQL is down shows no projector series
	}
	for i, s := range list {
		if i == 0 {
			ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(s.Head))
		}
		leader := 0.0
		if s.Leader {
			leader = 1
		}
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(s.Position), s.Name)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.Lag), s.Name)
		ch <- prometheus.MustNewConstMetric(c.leaders, prometheus.GaugeValue, leader, s.Name)
		age := 0.0
		if s.Lag > 0 {
			if at, err := c.store.CommittedAt(ctx, s.Position+1); err == nil && !at.IsZero() {
				age = max(time.Since(at).Seconds(), 0)
			}
		}
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, age, s.Name)
	}
}

// upstreamClient is the HTTP client of the calls to Meta's Graph API
// (upstream meta_graph) and to Genesys Cloud's login (genesys_login): it
// does not follow redirects and times each call in
// tenant_service_upstream_request_duration_seconds by outcome (ok, 4xx, 5xx,
// error: no answer).
func (m *serviceMetrics) upstreamClient(upstream string, next http.RoundTripper) *http.Client {
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: upstreamTransport{upstream: upstream, next: next, hist: m.upstream},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type upstreamTransport struct {
	upstream string
	next     http.RoundTripper
	hist     *prometheus.HistogramVec
}

func (t upstreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(r)
	outcome := "error"
	switch {
	case err != nil:
	case res.StatusCode >= 500:
		outcome = "5xx"
	case res.StatusCode >= 400:
		outcome = "4xx"
	default:
		outcome = "ok"
	}
	t.hist.WithLabelValues(t.upstream, outcome).Observe(time.Since(start).Seconds())
	return res, err
}
