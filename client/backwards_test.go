package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenant-service/client/internal/servicetest"
)

// TestNeverBackwardsUnderConcurrentLookupsAndUpdates reads a tenant through
// its three keys from several goroutines while it changes: no lookup may
// answer a version older than one a lookup that completed before it began
// answered, and at the end every key answers the last version.
func TestNeverBackwardsUnderConcurrentLookupsAndUpdates(t *testing.T) {
	svc := servicetest.Start(t)
	c := newClient(t, svc)
	a := svc.CreateTenant("v")
	const phone, spare, integration = "5511933330001", "5511933330002", "integration-backwards"
	svc.LinkNumber(a.TenantID, "waba", phone)
	svc.SetIntegration(a.TenantID, integration)
	waitApplied(t, c, svc)

	looks := []struct {
		look lookup
		id   string
	}{{c.ByTenant, a.TenantID}, {c.ByPhoneNumber, phone}, {c.ByIntegration, integration}}
	var maxSeen, lookups atomic.Int64
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := maxSeen.Load()
				l := looks[r.IntN(len(looks))]
				ctx, cancel := context.WithTimeout(bg(), 5*time.Second)
				tc, err := l.look(ctx, l.id)
				cancel()
				lookups.Add(1)
				if err != nil {
					failed.CompareAndSwap(nil, fmt.Sprintf("lookup %s: %v", l.id, err))
					return
				}
				if tc.Version < before {
					failed.CompareAndSwap(nil, fmt.Sprintf("lookup %s answered version %d after a lookup answered %d", l.id, tc.Version, before))
					return
				}
				for m := maxSeen.Load(); tc.Version > m && !maxSeen.CompareAndSwap(m, tc.Version); m = maxSeen.Load() {
				}
				time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
			}
		})
	}

	for i := range 120 {
		switch i % 10 {
		case 3:
			svc.LinkNumber(a.TenantID, "waba", spare)
		case 7:
			svc.UnlinkNumber(a.TenantID, spare)
		default:
			svc.Rename(a.TenantID, fmt.Sprint("v", i))
		}
	}
	close(stop)
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}
	eventually(t, within, func() error {
		for _, l := range looks {
			tc, err := l.look(bg(), l.id)
			if err != nil {
				return err
			}
			if tc.Name != "v119" {
				return fmt.Errorf("lookup %s answered %q version %d, want the last rename", l.id, tc.Name, tc.Version)
			}
		}
		return nil
	})
	t.Logf("%d lookups during 120 changes, none went backwards", lookups.Load())
}
