// Package postgres holds what the service's PostgreSQL adapters (the event
// store, the read models, the vault) share: query arguments with their
// placeholders, and the classification of a failure as a domain error the
// HTTP layer can answer.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenant-service/domain"
)

// Args collects the arguments of a query built piece by piece.
type Args []any

// Add appends v and returns its placeholder ($1, $2, ...).
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// ErrUnavailable is the domain error of a dependency that could not be
// reached, or not in time.
var ErrUnavailable = &domain.Error{Kind: domain.KindUnavailable, Code: "dependency-unavailable",
	Detail: "a service this request needs is unavailable; retry later"}

// Classify returns err as a domain error when it means PostgreSQL could not
// be reached or answered too late (KindUnavailable: connection refused or
// reset, timeouts, a server shutting down or out of resources), or refused a
// value of the request as data (SQLSTATE class 22, KindInvalid: validation
// keeps such values out; this is the safety net). Domain errors and other
// errors pass unchanged; the cause stays in the chain.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := domain.AsError(err); ok {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "22" {
		de := domain.Invalid(domain.FieldError{Field: "request", Message: "holds a value that cannot be stored or looked up"})
		de.Err = err
		return de
	}
	if unavailable(err) {
		return &domain.Error{Kind: ErrUnavailable.Kind, Code: ErrUnavailable.Code, Detail: ErrUnavailable.Detail, Err: err}
	}
	return err
}

// ClassifyOn replaces *err by Classify(*err); defer it in an adapter's
// exported methods.
func ClassifyOn(err *error) { *err = Classify(*err) }

// unavailable reports whether err means a dependency could not be reached
// (connection refused or reset, timeouts, a database shutting down).
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		// A connection dropped mid-query surfaces as an unexpected end of input.
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: admin shutdown, crash, cannot
		// connect now; 53: insufficient resources.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:4] == "57P0" || pe.Code[:2] == "53")
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// PlanEachTime, passed as a query's first argument, has PostgreSQL plan the
// query at every execution, for its actual arguments, instead of reusing a
// plan cached on the connection. Use it for lookups of a list of keys in a
// table that grows: a plan cached while the table was small is a
// sequential scan, kept until the table is next analyzed, and each
// execution then reads the whole table. (Planning costs tens of
// microseconds; keep it off statements that run many times a second.)
const PlanEachTime = pgx.QueryExecModeCacheDescribe
