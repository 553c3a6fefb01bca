package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"tenant-service/internal/testkit"
)

// `make run` stops when make is told to: SIGTERM to make reaches the
// server (make's child is the server itself, not `go run`, which left it
// running on the port).
func TestMakeRunStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t)
	port := freePort(t)
	cmd := exec.Command("make", "-s", "-C", root, "run")
	cmd.Env = []string{"PATH=" + filepath.Join(runtime.GOROOT(), "bin") + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GOCACHE=" + os.Getenv("GOCACHE"), "GOMODCACHE=" + os.Getenv("GOMODCACHE"),
		fmt.Sprintf("PORT=%d", port)}
	if cmd.Env[2] == "GOCACHE=" {
		cache, _ := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "env", "GOCACHE").Output()
		cmd.Env[2] = "GOCACHE=" + string(trimNL(cache))
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if raceBuild() { // reuse the objects this test binary was built from: make's build only links
		cmd.Env = append(cmd.Env, "GOFLAGS=-race")
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("make run output:\n%s", logs.String())
		}
	})
	testkit.Eventually(t, 3*time.Minute, func() error { // the first build takes a while
		select {
		case err := <-exited:
			t.Fatalf("make run exited: %v\n%s", err, logs.String())
		default:
		}
		res, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(40 * time.Second):
		t.Fatal("make did not exit after SIGTERM")
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return fmt.Errorf("something still listens on port %d after make exited", port)
		}
		return nil
	})
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
