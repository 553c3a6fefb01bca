package client

import (
	"fmt"
	"runtime"
	"testing"

	"tenant-service/client/tenantcache"
)

// maxBytesPerTenant is the documented heap cost of one tenant cached under
// its three keys (tenant id, phone number, integration id), see
// DefaultMaxEntries.
const maxBytesPerTenant = 1200

// maxBytesPerEntry is the documented most an entry takes, whatever it holds.
const maxBytesPerEntry = 800

// TestMemoryOf100000Tenants caches 100,000 tenants under their three keys
// each, as lookups would, and measures the heap they take: they must fit
// the default bound without eviction, within the documented cost.
func TestMemoryOf100000Tenants(t *testing.T) {
	const tenants = 100_000
	before := heap()
	c, _ := offline(t, tenants, DefaultMaxEntries)
	used := heap() - before
	s := c.cache.Stats()
	if s.Entries != 3*tenants || s.Evictions != 0 {
		t.Fatalf("%d entries, %d evictions: 100,000 tenants do not fit the default bound", s.Entries, s.Evictions)
	}
	t.Logf("100,000 tenants (300,000 entries): %.1f MiB of heap, %d bytes per tenant, %d per entry; default bound %d entries",
		float64(used)/(1<<20), used/tenants, used/(3*tenants), DefaultMaxEntries)
	if used > maxBytesPerTenant*tenants {
		t.Fatalf("100,000 tenants take %d bytes, more than the documented %d per tenant", used, maxBytesPerTenant)
	}
	runtime.KeepAlive(c)

	// The entries that share nothing: one per tenant; and negative ones.
	before = heap()
	c, _ = offlineKinds(t, tenants, DefaultMaxEntries, tenantcache.KindPhoneNumber)
	single := (heap() - before) / tenants
	runtime.KeepAlive(c)
	before = heap()
	c, _ = offlineKinds(t, 0, DefaultMaxEntries)
	for i := range tenants {
		c.cache.Put(c.cache.Ticket(), tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: fmt.Sprintf("55118%08d", i)}, answer{})
	}
	negative := (heap() - before) / tenants
	runtime.KeepAlive(c)
	t.Logf("an entry that shares nothing: %d bytes; a negative entry: %d bytes", single, negative)
	if single > maxBytesPerEntry || negative > maxBytesPerEntry {
		t.Fatalf("more than the documented %d bytes per entry", maxBytesPerEntry)
	}
}

// heap returns the bytes of live heap objects after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
