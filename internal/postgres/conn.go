package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SetUpConn prepares a new connection as the service uses them: how it
// sends parameters (RegisterTypes) and how its backend keeps freed memory
// (retainBackendHeap). Use it as pgxpool.Config.AfterConnect.
func SetUpConn(ctx context.Context, conn *pgx.Conn) error {
	if err := RegisterTypes(ctx, conn); err != nil {
		return err
	}
	return retainBackendHeap(ctx, conn)
}

// retainBackendHeap makes the connection's PostgreSQL backend keep up to
// 2 MiB of the memory it frees for reuse, instead of handing it back to the
// kernel after each statement.
//
// A backend allocates with the C library's malloc. glibc gives the free top
// of its heap back to the kernel once it passes 128 KiB (its trim
// threshold), so a backend whose statements each take a few hundred KiB, as
// a group commit's do, shrinks its heap after one and faults the pages back
// in during the next. Measured under the create load: 2.2 page faults per
// create against 0.5, and about 45 % more PostgreSQL CPU per create, on a
// virtual machine where a fault is dear. glibc raises a process's trim
// threshold to twice the size of a mapped block it frees (blocks of up to
// 32 MiB): building and dropping one 1 MiB value at connect does that.
// Elsewhere (another C library, or glibc with fixed thresholds) it is one
// 1 MiB allocation and nothing more.
func retainBackendHeap(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SELECT octet_length(repeat('x', 1048576))"); err != nil {
		return fmt.Errorf("set up connection: %w", err)
	}
	return nil
}
