package handlers

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// isUnavailable reports whether err means a dependency could not be reached
// (connection refused or reset, timeouts, a database shutting down), which
// the client sees as 503 rather than 500.
func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
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
		// Class 08: connection exception; 57P0x: admin shutdown, crash, cannot connect now;
		// 53: insufficient resources.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:4] == "57P0" || pe.Code[:2] == "53")
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// isBadInput reports whether PostgreSQL refused a value of the request as
// data (SQLSTATE class 22: invalid byte sequence, untranslatable character,
// value out of range). Validation keeps such values out; this is the safety
// net that makes one that slips through a 400, never a 500.
func isBadInput(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "22"
}
