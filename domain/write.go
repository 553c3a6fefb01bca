package domain

// Write qualifies one command on a tenant: the version the caller expects,
// who sends it and in which request, and the key that makes retrying it safe.
type Write struct {
	// IfMatch, when set, is the version the tenant must be at (else a
	// precondition error, 412); without it a command that loses a race to
	// another writer is decided again on the fresh state.
	IfMatch *Version
	// Metadata is recorded with every event the command appends.
	Metadata Metadata
	// Idempotency, when set, makes a retry with the same scope answer the
	// first result without deciding again.
	Idempotency *Idempotency
}

// Idempotency makes a command safe to retry: a second command with the same
// Scope returns the first one's result and records nothing.
type Idempotency struct {
	Scope       string // the caller's identity and its key
	RequestHash []byte // what was asked; the same scope with another request is refused
}

// Outcome is what a command did.
type Outcome struct {
	State     State         // the tenant afterwards
	Events    []StoredEvent // what it appended (none when nothing changed)
	Duplicate bool          // answered from an earlier command with the same idempotency scope
}
