package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEventsExportAndVerifyCLI(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	id := a.createTenant("Audited")
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	a.createTenant("Other")

	code, out, errOut := runCLI(t, a.env, "events", "verify")
	if code != 0 || !strings.Contains(out, "OK: 3 events verified") {
		t.Fatalf("verify: %d %q %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "tenant.jsonl")
	if code, _, errOut = runCLI(t, a.env, "events", "export", "--tenant", id, "--out", file); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	if code, out, _ = runCLI(t, a.env, "events", "verify", "--file", file); code != 0 || !strings.Contains(out, "OK: 2 events") {
		t.Fatalf("verify export: %d %q", code, out)
	}
	// Edit a row by hand: verify names the position and fails.
	conn, err := pgx.Connect(context.Background(), a.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE es_events SET data = jsonb_set(data, '{name}', '"Forged"') WHERE global_position = 1`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, a.env, "events", "verify")
	if code == 0 || !strings.Contains(out, "BROKEN at position 1") {
		t.Fatalf("verify after tampering: %d %q", code, out)
	}
	// A tampered export file fails too.
	raw, _ := os.ReadFile(file)
	_ = os.WriteFile(file, bytes.Replace(raw, []byte(`"TenantSuspended"`), []byte(`"TenantReactivated"`), 1), 0o600)
	if code, out, _ = runCLI(t, a.env, "events", "verify", "--file", file); code == 0 || !strings.Contains(out, "BROKEN") {
		t.Fatalf("verify tampered export: %d %q", code, out)
	}
}

func TestProductionRequiresSettings(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, map[string]string{"APP_ENV": "production"}, "serve")
	if code == 0 || !strings.Contains(errOut, "ENCRYPTION_KEYS is required") || !strings.Contains(errOut, "API_KEYS is required") {
		t.Fatalf("production without settings: %d %q", code, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"PORT": "http"}, "serve")
	if code == 0 || !strings.Contains(errOut, "PORT") {
		t.Fatalf("bad port: %d %q", code, errOut)
	}
}

// The service as main runs it: listens, serves, and on shutdown lets an
// in-flight request finish.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["PORT"] = "0"
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard, func(a net.Addr) { addrs <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	base := "http://" + strings.Replace(addr.String(), "[::]", "127.0.0.1", 1)
	// Start a request whose body arrives slowly, then shut down while it is in flight.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", base+"/api/tenants", pr)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	result := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	_, _ = pw.Write([]byte(`{"name":`))
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte(`"Late"}`))
	pw.Close()
	if status := <-result; status != 201 {
		t.Fatalf("in-flight request during shutdown: %d", status)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
