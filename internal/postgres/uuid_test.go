package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

// With the service's types registered, a UUID string goes to PostgreSQL in
// binary; what PostgreSQL answers is the same as when it went as text,
// including for strings that are not canonical UUIDs.
func TestUUIDStringsGoInBinary(t *testing.T) {
	pool := testenv.NewPool(t) // connections set up as the service sets them up
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()

	const id = "0193a5b2-7c3e-7abc-8def-0123456789ab"
	b, err := conn.Conn().TypeMap().Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id, nil)
	if err != nil || len(b) != 16 || b[0] != 0x01 || b[15] != 0xab {
		t.Fatalf("binary encoding of %q = %x, %v; want its 16 bytes", id, b, err)
	}
	if _, err := conn.Conn().TypeMap().Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, "0193a5b27c3e7abc8def0123456789ab", nil); err == nil {
		t.Fatal("a string without hyphens encoded in binary; it should be left to PostgreSQL as text")
	}

	for _, tc := range []struct {
		arg  any
		want string
	}{
		{id, id},
		{domain.TenantID(id), id},
		{"0193A5B2-7C3E-7ABC-8DEF-0123456789AB", id},
		{"{0193a5b2-7c3e-7abc-8def-0123456789ab}", id}, // not canonical: sent as text, PostgreSQL reads it
		{"0193a5b27c3e7abc8def0123456789ab", id},
	} {
		var got string
		if err := conn.QueryRow(ctx, `SELECT $1::uuid::text`, tc.arg).Scan(&got); err != nil || got != tc.want {
			t.Errorf("SELECT %#v::uuid = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}

	var arr []string
	in := []string{id, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}
	if err := conn.QueryRow(ctx, `SELECT array_agg(u::text ORDER BY n) FROM unnest($1::uuid[]) WITH ORDINALITY AS x(u, n)`, in).Scan(&arr); err != nil || !slices.Equal(arr, in) {
		t.Errorf("uuid[] round trip = %v, %v; want %v", arr, err, in)
	}

	for _, bad := range []any{"not-a-uuid", "0193a5b2-7c3e-7abc-8def-0123456789zz", []string{id, "nope"}} {
		var pe *pgconn.PgError
		_, err := conn.Exec(ctx, `SELECT $1::uuid[]`, bad)
		if _, isSlice := bad.([]string); !isSlice {
			_, err = conn.Exec(ctx, `SELECT $1::uuid`, bad)
		}
		if !errors.As(err, &pe) || pe.Code != "22P02" {
			t.Errorf("%#v as a uuid: err = %v; want PostgreSQL's invalid-text-representation (22P02)", bad, err)
		}
	}
}
