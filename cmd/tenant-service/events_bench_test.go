package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/tcpproxy"
	"tenant-service/messaging"
)

// BenchmarkEventToQueue measures, for one create command at a time through
// the HTTP API, how long until its event is in a bound queue and until its
// Redis key is written, both from the moment the request is sent. It
// reports the 50th and 99th percentiles in milliseconds.
//
//	go test -run '^$' -bench EventToQueue -benchtime 300x ./cmd/tenant-service/
func BenchmarkEventToQueue(b *testing.B) {
	env := testEnv(b)
	useExchange(b, env)
	tap := bindTap(b, env)
	rdb, keys := redisFor(b, env)
	a := startApp(b, env)
	ctx := context.Background()

	var toCommand, toQueue, toRedis []time.Duration
	n := 0
	for b.Loop() {
		n++
		start := time.Now()
		id := a.createTenant(fmt.Sprintf("bench %d", n))
		answered := time.Now()
		key := keys.Tenant(domain.TenantID(id))
		for rdb.Exists(ctx, key).Val() == 0 {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("tenant %s not in Redis after 30s", id)
			}
			time.Sleep(200 * time.Microsecond)
		}
		inRedis := time.Now()
		queued := tap.waitTenant(b, id, 30*time.Second)
		toCommand = append(toCommand, answered.Sub(start))
		toQueue = append(toQueue, queued.Sub(start))
		toRedis = append(toRedis, inRedis.Sub(start))
	}
	report(b, "cmd", toCommand)
	report(b, "queue", toQueue)
	report(b, "redis", toRedis)
}

// report adds the 50th and 99th percentiles of the durations as metrics.
func report(b *testing.B, name string, ds []time.Duration) {
	slices.Sort(ds)
	at := func(p int) float64 {
		return float64(ds[min(len(ds)*p/100, len(ds)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(50), name+"-p50-ms")
	b.ReportMetric(at(99), name+"-p99-ms")
}

// waitTenant returns when the tap received the first message of the tenant.
func (tp *eventTap) waitTenant(b testing.TB, tenant string, within time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, d := range tp.deliveries() {
			if d.Headers[messaging.HeaderTenantID] == tenant {
				return d.at
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("no message of tenant %s after %s", tenant, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkRelayCatchUp piles up 10,000 events (1,000 tenants × 10,
// interleaved) while RabbitMQ is cut off, restores it and measures how fast
// the relay publishes the backlog: from the first message of the backlog in
// the bound queue until the relay's checkpoint reaches the head. It reports
// msgs/s, and resume-s: from the restore to the first message (reconnect
// and retry backoff).
//
//	go test -run '^$' -bench RelayCatchUp -benchtime 1x ./cmd/tenant-service/
func BenchmarkRelayCatchUp(b *testing.B) {
	const tenants, perTenant = 1000, 10
	env := testEnv(b)
	useExchange(b, env)
	tap := bindTap(b, env)
	proxy, via := proxyURL(b, env["AMQP_URL"])
	env["AMQP_URL"] = via
	a := startApp(b, env)
	pool, store := a.app.pool, a.app.store

	var rate, resume float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		proxy.Cut()
		_, before, _ := progress(b, pool, messaging.RelayName)
		pileUp(b, store, tenants, perTenant)
		seen := len(tap.deliveries())
		tcpproxy.MustRestore(b, proxy)
		restored := time.Now()
		b.StartTimer()
		for {
			cp, head, _ := progress(b, pool, messaging.RelayName)
			if cp == head && head >= before+tenants*perTenant {
				break
			}
			if time.Since(restored) > 90*time.Second {
				b.Fatalf("relay at %d of %d after 90s", cp, head)
			}
			time.Sleep(2 * time.Millisecond)
		}
		caughtUp := time.Now()
		b.StopTimer()
		// Confirmed messages reach the consumer a moment later.
		var backlog []delivery
		for len(backlog) < tenants*perTenant {
			if time.Since(caughtUp) > 30*time.Second {
				b.Fatalf("%d of %d messages in the queue 30s after the checkpoint reached the head", len(backlog), tenants*perTenant)
			}
			time.Sleep(5 * time.Millisecond)
			backlog = tap.deliveries()[seen:]
		}
		b.StartTimer()
		rate += float64(tenants*perTenant) / caughtUp.Sub(backlog[0].at).Seconds()
		resume += backlog[0].at.Sub(restored).Seconds()
		rounds++
	}
	b.ReportMetric(rate/float64(rounds), "msgs/s")
	b.ReportMetric(resume/float64(rounds), "resume-s")
}

// pileUp appends perTenant events to each of n new tenants, round by round
// from 8 writers, so consecutive positions belong to different tenants.
func pileUp(b testing.TB, store *eventstore.Store, n, perTenant int) {
	b.Helper()
	ids := make([]domain.TenantID, n)
	for i := range ids {
		ids[i] = domain.NewTenantID()
	}
	ctx := context.Background()
	for round := range perTenant {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					var e domain.Event = domain.TenantCreated{TenantID: ids[i], Name: "backlog"}
					if round > 0 {
						name := fmt.Sprintf("backlog %d", round)
						e = domain.TenantUpdated{Name: &name}
					}
					if _, err := store.Append(ctx, eventstore.Append{StreamID: ids[i].StreamID(), TenantID: ids[i],
						ExpectedVersion: domain.Version(round), Events: []domain.Event{e}}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatalf("pile up round %d: %v", round, err)
		}
	}
}
