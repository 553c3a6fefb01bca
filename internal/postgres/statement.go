package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Statement is one write a component hands to a transaction it does not
// run: the event store's append runs the statements of its inline
// projections (the tenants read model, the vault's crypto-shredding)
// pipelined with its own, in the transaction of the append's group.
type Statement struct {
	SQL  string
	Args []any
	// MustAffect makes a statement that changes no row a refusal of its
	// append (a claim another tenant holds, say), as an integrity violation
	// is.
	MustAffect bool
	// Refused explains a refusal of this statement: called after the
	// transaction rolled back, with q outside it, it returns the error the
	// append answers with, or nil when committed data does not explain it
	// (another write of the same transaction held the value): the append
	// is then tried again. Without it the append fails with the database's
	// error.
	Refused func(ctx context.Context, q Querier) error
	// Committed, when set, runs once the transaction committed.
	Committed func()
}

// Querier runs a query; *pgxpool.Pool and pgx.Tx are ones.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
