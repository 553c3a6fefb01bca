// Package tenantcache is a concurrent in-memory store of tenant contexts
// (or any value that belongs to one tenant), keyed by tenant id, WhatsApp
// phone number id or Genesys integration id, for readers that must see a
// change soon after it commits and must never see a tenant go back to an
// older version. It depends on the standard library only, so both the Go
// client library and the tenant service itself can use it.
//
// # What it holds
//
// An entry is an Answer: either a value (a Value says which tenant it
// belongs to, at which stream version), or a negative answer ("no live
// tenant holds this key"). Each entry remembers the global position the answer was asked
// for (its Ticket), so a change event that the answer already reflects does
// not drop it. Entries are grouped per tenant, which lets one event drop
// every key of its tenant.
//
// # How it is kept fresh
//
// The owner feeds it every change event (Apply), in any order across
// tenants: Apply drops the entries the event could have changed (those of
// its tenant, and the keys the event names, such as a phone number that was
// linked) and raises the applied position. A fetch after a miss goes like
// this:
//
//	t := cache.Ticket()                    // before asking the source
//	a := fetch(key, t.Position())          // the answer reflects at least t.Position()
//	if cache.Put(t, key, a) == Outdated {  // an event applied meanwhile may be newer
//		// fetch again with a new ticket
//	}
//
// Put refuses an answer that an event applied after the ticket could have
// changed, and an answer older than a version of the same tenant the cache
// already answered (the per-tenant floor), so a reader never goes backwards.
//
// After the owner lost its event feed for a while, MarkStale makes every
// entry stored so far Stale: Get still returns it (as the last known good
// answer) but says so, and the owner re-reads it before serving it as fresh.
// MarkFresh lifts that once the owner has applied every event it missed.
// An owner that cannot tell what it missed calls Expire instead: the entries
// stay Stale until each is re-read.
//
// The floor of a tenant lives as long as the tenant has entries. When its
// last entry goes while the floor is ahead of every change applied for the
// tenant (the source answered ahead of the event feed), the floor is kept a
// while longer, without entries, until a change confirms it.
//
// # Cost
//
// Get takes no lock, allocates nothing and copies nothing: it returns a
// pointer to the value inside its entry, which is never modified after it
// is stored (an update stores a new entry). Each kind of key is split over
// many shards, each an immutable map swapped atomically (copy on write), and
// the hit counter is striped so that readers on different cores do not
// write the same cache line. Writes (Put, Apply, eviction) are serialised by
// one mutex and copy one shard; they happen on misses and events, which cost
// a network round trip anyway.
//
// # Size
//
// Config.MaxEntries bounds the number of entries (positive and negative).
// Above it, cold entries are evicted with the CLOCK algorithm: every hit
// marks its entry, and the eviction hand spares a marked entry once.
package tenantcache
