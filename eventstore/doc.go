// Package eventstore is the PostgreSQL event store: append with an expected
// version (optimistic concurrency) and idempotency keys, read a stream, read
// the global feed from a position, and wake readers with LISTEN/NOTIFY. It also
// holds the Repository that loads a Tenant, lets it decide, and appends what it
// recorded, the hash chain that makes the log tamper-evident, and the bulk
// reads and head lock with which a read model is rebuilt while appends go on.
// It is the only package that reads or writes the es_* tables.
//
// Appends made at the same time commit together (group commit, group.go and
// commit.go): one transaction, pipelined in one round trip for creates and
// two otherwise, with one head-row lock and one flush for the group, while
// each append keeps its own version check, idempotency claim and read-model
// writes and gets its own answer. Traced (Config.TracerProvider), each append
// is a span under its caller's, and each group's transaction one span under
// its oldest append's, linked both ways to the others (trace.go).
//
// Global positions come from a single head row that es_append_events updates
// last, just before commit. Commits that append therefore take the head one
// at a time in position order, positions are gap-free, and a reader that has
// seen position N never later finds a newly committed event below N.
package eventstore
