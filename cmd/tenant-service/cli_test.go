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

	"tenant-service/eventstore/storetest"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	// The command's logger and its progress bar write to stderr from
	// different goroutines, as they may to a terminal.
	var out, errOut lockedBuffer
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
	storetest.ForgeName(t, openPool(t, a.env), 1, "Forged")
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

// An auditor holding a signed checkpoint detects a history shortened since:
// the newest events deleted and the head and the streams rewound to match,
// which the database alone no longer shows.
func TestEventsCheckpointCLIDetectsAShortenedHistory(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	code, keys, _ := runCLI(t, a.env, "keys", "generate-signing")
	if code != 0 {
		t.Fatalf("generate-signing: %d", code)
	}
	env := cloneEnv(a.env)
	for _, line := range strings.Split(strings.TrimSpace(keys), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	id := a.createTenant("Audited")
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	dir := t.TempDir()
	cp := filepath.Join(dir, "checkpoint.json")
	if code, _, errOut := runCLI(t, env, "events", "checkpoint", "--out", cp); code != 0 {
		t.Fatalf("checkpoint: %d %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, env, "events", "verify", "--checkpoint", cp); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("verify with the checkpoint: %d %q %q", code, out, errOut)
	}
	full := filepath.Join(dir, "all.jsonl")
	if code, _, errOut := runCLI(t, env, "events", "export", "--out", full); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}

	// Shorten the history so that it is consistent in itself.
	storetest.CutTail(t, openPool(t, env))
	if code, out, _ := runCLI(t, env, "events", "verify"); code != 0 {
		t.Fatalf("the shortened log alone should verify (that is what checkpoints are for): %d %q", code, out)
	}
	code, out, _ := runCLI(t, env, "events", "verify", "--checkpoint", cp)
	if code == 0 || !strings.Contains(out, "shortened") {
		t.Fatalf("verify of the shortened log against the checkpoint: %d %q", code, out)
	}
	// An export cut short is caught the same way, by an auditor with the public key only.
	raw, _ := os.ReadFile(full)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	_ = os.WriteFile(full, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600)
	auditor := map[string]string{"CHECKPOINT_PUBLIC_KEY": env["CHECKPOINT_PUBLIC_KEY"]}
	code, out, _ = runCLI(t, auditor, "events", "verify", "--file", full, "--checkpoint", cp)
	if code == 0 || !strings.Contains(out, "shortened") {
		t.Fatalf("verify of a cut-short export against the checkpoint: %d %q", code, out)
	}
	// A checkpoint checked with another public key is refused.
	code, other, _ := runCLI(t, a.env, "keys", "generate-signing")
	otherPub := strings.TrimPrefix(strings.Split(strings.TrimSpace(other), "\n")[1], "CHECKPOINT_PUBLIC_KEY=")
	if code, _, errOut := runCLI(t, auditor, "events", "verify", "--file", full, "--checkpoint", cp, "--public-key", otherPub); code == 0 ||
		!strings.Contains(errOut, "another key") {
		t.Fatalf("a checkpoint under another key: %d %q", code, errOut)
	}
}
