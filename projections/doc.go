// Package projections builds the read models from events.
//
//   - Tenants is the PostgreSQL read model: the tenants table and the
//     phone-number and integration claims (whose primary keys make a value
//     belong to one live tenant). The event store writes it in
//     the append's transaction (it is an eventstore.InlineProjection), so it is
//     never behind. RebuildTenants recomputes it while the service serves and
//     appends: it folds the log in memory in one pass, writes the result into
//     temporary shadow tables, and swaps them in with one transaction that
//     holds appends off (not readers) for the last catch-up and the swap.
//   - Runner runs asynchronous projectors (Projector: a name and Handle) with
//     a checkpoint each in projector_checkpoints: one replica at a time under a
//     PostgreSQL advisory lock, catching up from the checkpoint, then following
//     NOTIFY wake-ups with a slow poll; the checkpoint moves only after Handle
//     succeeded. Status and Rebuild serve the operator commands.
//   - RedisTenants is the Redis read model (tenant contexts and lookup keys,
//     version-guarded), and Resolver reads it for the handlers: Redis first,
//     PostgreSQL on a miss or while Redis is down.
//   - Follower hands every event after the head it started at to handlers
//     in this process (no checkpoint, no leadership), for state each
//     replica keeps for itself.
//   - Memory is the resolve lookups kept in this process, in front of the
//     Resolver: filled on a miss, kept current by the Follower (each event
//     drops the lookups it may have changed), answering only when the
//     follower has applied the lookup's minimum position and keeps up. It
//     is built on the client module's tenantcache.
//
// It declares the event-source interfaces it needs (Source, Waker) and does
// not import the event store.
package projections
