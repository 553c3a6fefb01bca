package main

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"tenant-service/internal/testenv"
)

// DATABASE_URL may carry pgxpool's own settings (pool_max_conns and the
// like): the service's pool takes them, and they never reach PostgreSQL,
// which refuses a connection with a parameter it does not know. That holds
// for the connection that creates a missing database too.
func TestDatabaseURLCarriesPoolSettings(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(testenv.MissingDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	q.Set("pool_max_conn_idle_time", "10s")
	u.RawQuery = q.Encode()

	pool, err := openDatabase(ctx, Config{DatabaseURL: u.String()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open a missing database with pool settings in its URL: %v", err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 3 {
		t.Fatalf("pool MaxConns = %d, want 3 (from pool_max_conns)", got)
	}
	if got := pool.Config().MaxConnIdleTime; got != 10*time.Second {
		t.Fatalf("pool MaxConnIdleTime = %s, want 10s (from pool_max_conn_idle_time)", got)
	}
	var one int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query on the pool: %d, %v", one, err)
	}
}
