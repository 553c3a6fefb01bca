package client

import "tenant-service/client/tenantcache"

// queueRefresh hands keys an event dropped, and that had been used, to the
// refresh workers, so the next lookup finds them cached again. A full queue
// drops them: they are read on their next lookup instead.
func (c *Client) queueRefresh(keys []tenantcache.Key) {
	if c.cfg.RefreshWorkers < 0 {
		return
	}
	for _, k := range keys {
		select {
		case c.refreshQ <- k:
		default:
			return
		}
	}
}

// refreshLoop re-reads queued keys (with the applied position as
// minPosition, like every read) unless a lookup already did.
func (c *Client) refreshLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case k := <-c.refreshQ:
			if _, st := c.cache.Peek(k.Kind, k.ID); st == tenantcache.Fresh {
				continue
			}
			f := c.fetch(k)
			if f == nil {
				return
			}
			select {
			case <-f.done:
				if f.err == nil {
					c.refreshes.Add(1)
				}
			case <-c.ctx.Done():
				return
			}
		}
	}
}
