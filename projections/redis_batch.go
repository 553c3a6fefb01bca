package projections

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"tenant-service/domain"
)

// batchPlan is what one batch says beyond the tenants' current state: the
// lookups its events named (so a number linked and unlinked within the batch
// is still released) and the cached tokens it changed.
type batchPlan struct {
	ids                []domain.TenantID // distinct, in order of first event
	phones             map[domain.TenantID][]string
	integrations       map[domain.TenantID][]string
	whatsAppTokenStale map[domain.TenantID]bool
	// genesysRotatedAt is the time of the tenant's last credentials rotation
	// in the batch: cached Genesys tokens fetched before it are dropped.
	genesysRotatedAt map[domain.TenantID]time.Time
}

func planBatch(events []domain.StoredEvent) batchPlan {
	b := batchPlan{phones: map[domain.TenantID][]string{}, integrations: map[domain.TenantID][]string{},
		whatsAppTokenStale: map[domain.TenantID]bool{}, genesysRotatedAt: map[domain.TenantID]time.Time{}}
	seen := map[domain.TenantID]bool{}
	for _, se := range events {
		id := se.TenantID
		if !seen[id] {
			seen[id] = true
			b.ids = append(b.ids, id)
		}
		switch se.Type {
		case domain.EventWABALinked, domain.EventWABAUnlinked, domain.EventGenesysIntegrationLinked:
			// Only these carry lookups; an event that does not decode is
			// caught by the tenants table it was projected into.
			e, err := se.Decode()
			if err != nil {
				continue
			}
			switch e := e.(type) {
			case domain.WABALinked:
				b.phones[id] = appendUnique(b.phones[id], e.PhoneNumberID)
			case domain.WABAUnlinked:
				b.phones[id] = appendUnique(b.phones[id], e.PhoneNumberID)
			case domain.GenesysIntegrationLinked:
				b.integrations[id] = appendUnique(b.integrations[id], e.IntegrationID)
			}
		case domain.EventCredentialsRotated:
			b.genesysRotatedAt[id] = se.OccurredAt
		case domain.EventWhatsAppTokenStored:
			b.whatsAppTokenStale[id] = true
		}
	}
	return b
}

// Reset deletes every tenant context and lookup key of the prefix, and the
// marker, with SCAN and UNLINK in rounds of ResetBatch keys.
func (p *RedisTenants) Reset(ctx context.Context) error {
	// The applied position goes first: a reset cut short then still reads as
	// lost, and readers asking for a minPosition go to PostgreSQL meanwhile.
	for _, k := range []string{p.keys.position(RedisTenantsName), p.keys.versions(RedisTenantsName)} {
		if err := p.rdb.Del(ctx, k).Err(); err != nil { // one key per command: cluster slots differ
			return fmt.Errorf("reset redis read model: %w", err)
		}
	}
	var n atomic.Int64 // ForEachMaster runs the masters in parallel
	unlinkAll := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, p.keys.tenantPattern(), int64(p.cfg.ResetBatch)).Iterator()
		batch := make([]string, 0, p.cfg.ResetBatch)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			pipe := c.Pipeline()
			for _, k := range batch {
				pipe.Unlink(ctx, k) // one key per command: cluster slots differ
			}
			_, err := pipe.Exec(ctx)
			n.Add(int64(len(batch)))
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	var err error
	if cc, ok := p.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return unlinkAll(ctx, c) })
	} else {
		err = unlinkAll(ctx, p.rdb)
	}
	if err != nil {
		return fmt.Errorf("reset redis read model: %w", err)
	}
	p.log.Info("redis read model reset", "keys_removed", n.Load())
	return nil
}
