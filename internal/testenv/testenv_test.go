package testenv

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperNeedsRedisTwice is run by TestMissingServiceIsExplainedOnce in a
// child process whose TEST_REDIS_URL points at a closed port; on its own it
// does nothing.
func TestHelperNeedsRedisTwice(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "1" {
		return
	}
	for _, name := range []string{"first", "second", "third"} {
		t.Run(name, func(t *testing.T) { RedisURL(t) })
	}
}

// A missing service fails every test that needs it, with one line per run
// that names the address actually tried and says what to start.
func TestMissingServiceIsExplainedOnce(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsRedisTwice$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_HELPER=1", "TEST_REDIS_URL=redis://"+addr+"/0",
		"DOCKER_HOST=unix:///nonexistent/docker.sock")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed without Redis:\n%s", out)
	}
	text := string(out)
	if n := strings.Count(text, "Redis is not answering"); n != 1 {
		t.Fatalf("the explanation appears %d times, want once:\n%s", n, text)
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, want := range []string{addr, "TEST_REDIS_URL", "redis-server --daemonize yes --port " + port} {
		if !strings.Contains(text, want) {
			t.Fatalf("the explanation does not name %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "6379") {
		t.Fatalf("the explanation names the default port instead of the one tried:\n%s", text)
	}
	if n := strings.Count(text, "--- FAIL"); n < 3 {
		t.Fatalf("%d failures, want every test that needed Redis to fail:\n%s", n, text)
	}
}
