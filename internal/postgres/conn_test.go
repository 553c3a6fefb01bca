package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tenant-service/internal/postgres"
	"tenant-service/internal/testenv"
)

// A backend set up as the service sets up its connections keeps the memory a
// statement frees for the next one: running a statement that takes a few
// hundred KiB (a sort of 3,000 rows, in blocks under 128 KiB) again and
// again costs it no page faults. A backend left as it starts gives that
// memory back to the kernel after each run and faults it in again (over 100
// faults a run here). The backend's fault count is read from /proc, so the
// test needs PostgreSQL on this host.
func TestSetUpConnKeepsFreedMemoryInTheBackend(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := context.Background()
	const statement = `SELECT count(*) FROM (SELECT md5(g::text) FROM generate_series(1, 3000) g ORDER BY 1) s`
	const runs = 10
	faultsPerRun := func(setUp func(context.Context, *pgx.Conn) error) float64 {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := setUp(ctx, conn); err != nil {
			t.Fatalf("set up: %v", err)
		}
		pid := conn.PgConn().PID()
		if _, err := conn.Exec(ctx, statement); err != nil { // the heap reaches its size
			t.Fatal(err)
		}
		before := backendFaults(t, pid)
		for range runs {
			if _, err := conn.Exec(ctx, statement); err != nil {
				t.Fatal(err)
			}
		}
		return float64(backendFaults(t, pid)-before) / runs
	}

	asStarted := faultsPerRun(func(context.Context, *pgx.Conn) error { return nil })
	if asStarted < 20 {
		t.Skipf("this server's allocator keeps freed memory by itself (%.1f page faults a run): nothing to compare", asStarted)
	}
	if setUp := faultsPerRun(postgres.SetUpConn); setUp > asStarted/10 {
		t.Fatalf("page faults per run: %.1f with the service's set-up, %.1f without; want a tenth or less", setUp, asStarted)
	}
}

// backendFaults reads the minor page faults of a PostgreSQL backend on this
// host; the test is skipped when the process is not there (a server
// elsewhere, or in a container).
func backendFaults(t *testing.T, pid uint32) int {
	t.Helper()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		t.Skipf("backend %d is not a process of this host: cannot count its page faults", pid)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command (in parentheses): state is the 3rd of the
	// line, minflt the 10th.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, err := strconv.Atoi(fields[7])
	if err != nil {
		t.Fatalf("minflt of backend %d: %v", pid, err)
	}
	return n
}
