// Package eventstore is the PostgreSQL event store: append with an expected
// version (optimistic concurrency) and idempotency keys, read a stream, read
// the global feed from a position, and wake readers with LISTEN/NOTIFY. It also
// holds the Repository that loads a Tenant, lets it decide, and appends what it
// recorded, the hash chain that makes the log tamper-evident, and the bulk
// reads and head lock with which a read model is rebuilt while appends go on.
//
// Global positions come from a single head row that every append updates last,
// just before commit. Appends therefore commit one at a time in position order,
// positions are gap-free, and a reader that has seen position N never later
// finds a newly committed event below N.
package eventstore
