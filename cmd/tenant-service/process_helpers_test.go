package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/internal/testkit"
)

var serviceBinary struct {
	once sync.Once
	path string
	err  error
}

// buildService builds the service once per test process, with the race
// detector when the tests run with it (so the build reuses their cache),
// to a fixed path that later builds only relink when something changed.
func buildService(t *testing.T) string {
	t.Helper()
	serviceBinary.once.Do(func() {
		args := []string{"build"}
		flavor := "plain"
		if raceBuild() {
			args, flavor = append(args, "-race"), "race"
		}
		serviceBinary.path = filepath.Join(os.TempDir(), "tenant-service-e2e", flavor, "tenant-service")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, "-o", serviceBinary.path, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			serviceBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if serviceBinary.err != nil {
		t.Fatal(serviceBinary.err)
	}
	return serviceBinary.path
}

// raceBuild reports whether this test binary was built with -race.
func raceBuild() bool {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

// service is the built binary running as its own process.
type service struct {
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
}

// kill sends SIGKILL (no shutdown, no last batch) and waits until the
// process is gone.
func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runService starts the binary with env and waits until it answers on port.
func runService(t *testing.T, env map[string]string, port int) *service {
	t.Helper()
	cmd := exec.Command(buildService(t), "serve")
	cmd.Dir = t.TempDir() // no .env file to pick up
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &service{cmd: cmd, logs: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start service: %v", err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if strings.Contains(s.logs.String(), "DATA RACE") {
			t.Error("the race detector reported a data race in the service")
		}
		if t.Failed() {
			t.Logf("service logs (pid %d):\n%s", cmd.Process.Pid, s.logs.String())
		}
	})
	testkit.Eventually(t, 60*time.Second, func() error {
		select {
		case <-s.exited:
			t.Fatalf("service exited: %s", s.logs.String())
		default:
		}
		res, err := (&http.Client{Timeout: 2 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	})
	return s
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
