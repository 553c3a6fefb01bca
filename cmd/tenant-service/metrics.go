package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tenant-service/projections"
)

// projectorCollector reports each projector's checkpoint, head and lag at
// scrape time, from the same query as `projections status`.
type projectorCollector struct {
	runner                 *projections.Runner
	position, lag, leaders *prometheus.Desc
	head                   *prometheus.Desc
}

func newProjectorCollector(r *projections.Runner) *projectorCollector {
	return &projectorCollector{runner: r,
		position: prometheus.NewDesc("tenant_service_projector_position", "Last global position the projector handled.", []string{"projector"}, nil),
		lag:      prometheus.NewDesc("tenant_service_projector_lag_events", "Events committed but not yet handled by the projector.", []string{"projector"}, nil),
		leaders:  prometheus.NewDesc("tenant_service_projector_leader", "1 while some replica holds the projector's lock.", []string{"projector"}, nil),
		head:     prometheus.NewDesc("tenant_service_event_store_head_position", "Global position of the last committed event.", nil, nil),
	}
}

func (c *projectorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.position
	ch <- c.lag
	ch <- c.leaders
	ch <- c.head
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
	}
}
