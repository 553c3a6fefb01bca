package main

import (
	"encoding/json"
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
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"tenant-service/internal/tcpproxy"
	"tenant-service/messaging"
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
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args, flavor = append(args, "-race"), "race"
				}
			}
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
	eventually(t, 60*time.Second, func() error {
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

// Killing the service (SIGKILL) in the middle of 1,000 commands loses no
// event: after a restart the relay publishes every committed one.
func TestKillMidBurstLosesNothing(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	useExchange(t, env)
	tap := bindTap(t, env)
	pool := openPool(t, env)
	const commands, workers, perTenant = 1000, 16, 4 // each tenant: a create and three updates
	// A key per worker, so the per-key rate limit does not pace the burst.
	key := func(w int) string { return fmt.Sprintf("burst-admin-key-%02d-0123456789", w) }
	for w := range workers {
		env["API_KEYS"] += ",admin:" + key(w)
	}
	proxy, via := proxyURL(t, env["AMQP_URL"])
	env["AMQP_URL"] = via
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	svc := runService(t, env, port)

	var done atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	// send retries a command until the service answers it with 2xx, across
	// the kill and the restart.
	send := func(w int, method, path, body, idemKey string) (map[string]any, error) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key(w))
			req.Header.Set("Content-Type", "application/json")
			if idemKey != "" {
				req.Header.Set("Idempotency-Key", idemKey)
			}
			res, err := client.Do(req)
			if err == nil {
				var out map[string]any
				_ = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode/100 == 2 {
					done.Add(1)
					return out, nil
				}
				err = fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out)
			}
			if time.Now().After(deadline) {
				return nil, err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for n := w; n < commands/perTenant; n += workers {
				created, err := send(w, "POST", "/api/tenants", fmt.Sprintf(`{"name":"burst %d"}`, n), fmt.Sprintf("burst-%d", n))
				if err != nil {
					return err
				}
				id, _ := created["tenantId"].(string)
				for u := range perTenant - 1 {
					if _, err := send(w, "PATCH", "/api/tenants/"+id, fmt.Sprintf(`{"name":"burst %d.%d"}`, n, u), ""); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	failed := make(chan error, 1)
	go func() { failed <- g.Wait() }()
	began := time.Now()
	waitDone := func(n int64) {
		for done.Load() < n {
			select {
			case err := <-failed:
				t.Fatalf("the burst ended before the kill: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
	}
	waitDone(commands / 4)
	proxy.Cut() // the relay falls behind, so the kill leaves committed events unpublished
	waitDone(commands / 3)
	svc.kill()
	cp, head, _ := progress(t, pool, messaging.RelayName)
	if cp >= head {
		t.Fatalf("relay at %d of %d at the kill, with RabbitMQ cut off", cp, head)
	}
	t.Logf("killed after %d commands, %s into the burst, %d committed events unpublished",
		done.Load(), time.Since(began).Round(time.Millisecond), head-cp)
	tcpproxy.MustRestore(t, proxy)
	runService(t, env, port)
	t.Logf("restarted %s into the burst", time.Since(began).Round(time.Millisecond))
	if err := <-failed; err != nil {
		t.Fatal(err)
	}
	t.Logf("burst done in %s", time.Since(began).Round(time.Millisecond))

	eventually(t, 60*time.Second, func() error {
		if cp, head, lastErr := progress(t, pool, messaging.RelayName); cp != head {
			return errorf("relay at %d of %d (%s)", cp, head, lastErr)
		}
		return nil
	})
	events := committedEvents(t, pool)
	if len(events) < commands {
		t.Fatalf("%d events committed for %d acknowledged commands", len(events), commands)
	}
	tap.waitAll(t, 60*time.Second, events)
	copies := checkDelivered(t, tap.deliveries(), events)
	dups := 0
	for _, n := range copies {
		dups += n - 1
	}
	t.Logf("%d events committed, all delivered; %d duplicates after the kill", len(events), dups)
}
