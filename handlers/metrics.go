package handlers

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxCachedObservers bounds metrics.observers: methods of unmatched
// requests are whatever clients send.
const maxCachedObservers = 256

type metrics struct {
	requests *prometheus.HistogramVec
	// observers holds the histogram of each label set seen, so a request
	// neither formats its status nor hashes its labels. Copy on write: a
	// new label set is rare, a lookup takes no lock.
	observers atomic.Pointer[map[observerKey]prometheus.Observer]
	mu        sync.Mutex // serialises writers of observers
}

type observerKey struct {
	method, route string
	status        int
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenant_service_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"method", "route", "status"})}
	m.observers.Store(&map[observerKey]prometheus.Observer{})
	if reg != nil {
		reg.MustRegister(m.requests)
	}
	return m
}

// knownMethods are the methods that get a label value of their own; the
// method of a request is whatever the client sends.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	k := observerKey{method: method, route: route, status: status}
	obs, ok := (*m.observers.Load())[k]
	if !ok {
		obs = m.requests.WithLabelValues(method, route, strconv.Itoa(status))
		m.remember(k, obs)
	}
	obs.Observe(d.Seconds())
}

// remember adds an observer to the cache while it has room.
func (m *metrics) remember(k observerKey, obs prometheus.Observer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.observers.Load()
	if len(old) >= maxCachedObservers {
		return
	}
	next := make(map[observerKey]prometheus.Observer, len(old)+1)
	for key, o := range old {
		next[key] = o
	}
	// Keep copies: the method of an unmatched request is a slice of the
	// request line.
	next[observerKey{method: strings.Clone(k.method), route: k.route, status: k.status}] = obs
	m.observers.Store(&next)
}
