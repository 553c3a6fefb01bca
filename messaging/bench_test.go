package messaging

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// BenchmarkRelayPublish publishes a batch of 10,000 events (1,000 tenants ×
// 10 events, persistent, routed to one durable queue) and reports confirmed
// messages per second for several InFlight and Channels settings.
//
//	go test -run '^$' -bench RelayPublish ./messaging/
func BenchmarkRelayPublish(b *testing.B) {
	for _, c := range []struct{ inFlight, channels int }{
		{1, 1}, {16, 4}, {128, 1}, {128, 4}, {512, 4},
	} {
		b.Run(fmt.Sprintf("inflight=%d/channels=%d", c.inFlight, c.channels), func(b *testing.B) {
			benchmarkRelay(b, 1000, 10, RelayConfig{InFlight: c.inFlight, Channels: c.channels})
		})
	}
	// One tenant: its events are confirmed one at a time, whatever InFlight is.
	b.Run("single-tenant", func(b *testing.B) {
		benchmarkRelay(b, 1, 2000, RelayConfig{})
	})
}

func benchmarkRelay(b *testing.B, tenants, perTenant int, cfg RelayConfig) {
	tp := newTopology(b)
	r := tp.relay(b, "", cfg)
	waitReady(b, r)
	queue := tp.queueName()
	conn, err := amqp.Dial(tp.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := declareQueue(ch, tp.exchange, queue, []string{AllEvents}); err != nil {
		b.Fatal(err)
	}
	events := interleaved(b, tenants, perTenant, 0)

	b.ResetTimer()
	var published int
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		if err := r.Handle(context.Background(), events); err != nil {
			b.Fatalf("handle: %v", err)
		}
		elapsed += time.Since(start)
		published += len(events)
		b.StopTimer()
		if _, err := ch.QueuePurge(queue, false); err != nil {
			b.Fatalf("purge: %v", err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(published)/elapsed.Seconds(), "msgs/s")
}
