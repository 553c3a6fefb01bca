package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"tenant-service/domain"
)

// Failures that mean PostgreSQL could not be reached become 503s, values it
// refused as data 400s; everything else passes unchanged (a 500).
func TestClassify(t *testing.T) {
	for _, err := range []error{
		context.DeadlineExceeded,
		fmt.Errorf("load: %w", io.ErrUnexpectedEOF),
		&net.OpError{Op: "dial", Err: errors.New("connection refused")},
		&pgconn.PgError{Code: "57P01"},
		&pgconn.PgError{Code: "08006"},
		&pgconn.PgError{Code: "53300"},
	} {
		if got := Classify(err); domain.KindOf(got) != domain.KindUnavailable || !errors.Is(got, err) {
			t.Errorf("Classify(%v) = %v, want an unavailable domain error wrapping it", err, got)
		}
	}
	for _, err := range []error{&pgconn.PgError{Code: "22021"}, fmt.Errorf("resolve: %w", &pgconn.PgError{Code: "22P05"})} {
		if got := Classify(err); domain.KindOf(got) != domain.KindInvalid {
			t.Errorf("Classify(%v) = %v, want an invalid-input domain error", err, got)
		}
	}
	for _, err := range []error{errors.New("boom"), &pgconn.PgError{Code: "23505"}, &pgconn.PgError{Code: "42P01"}, nil} {
		if got := Classify(err); got != err {
			t.Errorf("Classify(%v) = %v, want it unchanged", err, got)
		}
	}
	de := domain.Errorf(domain.KindConflict, "x", "y")
	if Classify(fmt.Errorf("w: %w", de)) == nil || domain.KindOf(Classify(fmt.Errorf("w: %w", de))) != domain.KindConflict {
		t.Error("a domain error lost its kind")
	}
}

func TestArgs(t *testing.T) {
	var a Args
	if a.Add(1) != "$1" || a.Add("x") != "$2" || len(a) != 2 {
		t.Fatalf("args = %v", a)
	}
}
