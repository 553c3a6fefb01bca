package servicetest

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Keys the service is started with.
const (
	AdminKey   = "admin-key-0123456789abcdef"
	ServiceKey = "service-key-0123456789abcdef"
)

// Service is a running tenant service of a test.
type Service struct {
	// URL is the service's base URL, "http://127.0.0.1:port".
	URL string
	// AMQPURL is the broker the service publishes on; Exchange its
	// exchange, of this test alone.
	AMQPURL, Exchange string

	t       testing.TB
	env     []string
	logPath string
	http    *http.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd ended
}

// Start starts the service with a fresh database, Redis key prefix and
// exchange, and waits until it answers /healthz and its exchange exists.
// Everything is stopped and removed at the test's cleanup.
func Start(t testing.TB) *Service {
	t.Helper()
	pg, rdb, broker := DatabaseURL(t), RedisURL(t), AMQPURL(t)
	bin := binary(t)
	dbName := Name("client_test_")
	prefix := Name("ct") + ":"
	exchange := Name("client.test.events.")
	dbURL, err := url.Parse(pg)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	dbURL.Path = "/" + dbName
	dir := t.TempDir()
	port := freePort(t)
	s := &Service{
		URL:      "http://127.0.0.1:" + strconv.Itoa(port),
		AMQPURL:  broker,
		Exchange: exchange,
		t:        t,
		logPath:  filepath.Join(dir, "service.log"),
		http:     &http.Client{Timeout: 10 * time.Second},
		env: append(os.Environ(),
			"APP_ENV=development",
			"PORT="+strconv.Itoa(port),
			"DATABASE_URL="+dbURL.String(),
			"REDIS_URL="+rdb,
			"REDIS_KEY_PREFIX="+prefix,
			"AMQP_URL="+broker,
			"AMQP_EXCHANGE="+exchange,
			"API_KEYS=admin:"+AdminKey+",service:"+ServiceKey,
			"DEV_STATE_DIR="+dir,
			"API_KEY_RATE_LIMIT=100000:100000",
			"SERVICE_KEY_RATE_LIMIT=100000:100000",
		),
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			s.dumpLog()
		}
		dropDatabase(t, pg, dbName)
		deleteRedisKeys(t, rdb, prefix)
		deleteExchange(broker, exchange)
	})
	s.start(bin)
	s.waitExchange()
	return s
}

// start runs the binary and waits for /healthz.
func (s *Service) start(bin string) {
	s.t.Helper()
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = s.env
	cmd.Dir = filepath.Dir(s.logPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		s.t.Fatalf("start the tenant service: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := s.http.Get(s.URL + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			s.dumpLog()
			s.t.Fatalf("the tenant service exited during start-up")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.dumpLog()
			s.t.Fatalf("the tenant service did not answer /healthz within 30s")
		}
	}
}

// waitExchange waits until the service's relay declared its exchange.
func (s *Service) waitExchange() {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := withChannel(s.AMQPURL, func(ch *amqp.Channel) error {
			return ch.ExchangeDeclarePassive(s.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
		})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the service did not declare exchange %s within 15s: %v", s.Exchange, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the service at once (SIGKILL), as a crash would. It is a no-op
// when the service is not running.
func (s *Service) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the service again, on the same port and database, after
// Kill.
func (s *Service) Restart() {
	s.t.Helper()
	s.start(binary(s.t))
}

func (s *Service) dumpLog() {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	s.t.Logf("last lines of the tenant service log:\n%s", strings.Join(lines, "\n"))
}

// dropDatabase drops the test's database with psql.
func dropDatabase(t testing.TB, admin, name string) {
	out, err := exec.Command("psql", admin, "-v", "ON_ERROR_STOP=1", "-q", "-c",
		fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)).CombinedOutput()
	if err != nil {
		t.Logf("drop database %s: %v: %s", name, err, out)
	}
}

// deleteRedisKeys deletes every key with the prefix, with redis-cli.
func deleteRedisKeys(t testing.TB, redisURL, prefix string) {
	out, err := exec.Command("redis-cli", "-u", redisURL, "--scan", "--pattern", prefix+"*").Output()
	if err != nil {
		t.Logf("list redis keys %s*: %v", prefix, err)
		return
	}
	keys := strings.Fields(string(out))
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := append([]string{"-u", redisURL, "DEL"}, keys[:n]...)
		if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
			t.Logf("delete redis keys: %v: %s", err, out)
			return
		}
		keys = keys[n:]
	}
}

// deleteExchange deletes the exchange, and the alternate exchange and queue
// the service declares with it.
func deleteExchange(broker, exchange string) {
	_ = withChannel(broker, func(ch *amqp.Channel) error {
		_, _ = ch.QueueDelete(exchange+".unrouted", false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
		return ch.ExchangeDelete(exchange+".unrouted", false, false)
	})
}

// withChannel runs f on a channel of a new connection to the broker.
func withChannel(broker string, f func(*amqp.Channel) error) error {
	conn, err := amqp.DialConfig(broker, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return f(ch)
}

// DeclareExchange declares a durable topic exchange with the arguments the
// service uses, for tests that play the service's part.
func DeclareExchange(t testing.TB, broker, exchange string) {
	t.Helper()
	err := withChannel(broker, func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false,
			amqp.Table{"alternate-exchange": exchange + ".unrouted"})
	})
	if err != nil {
		t.Fatalf("declare exchange %s: %v", exchange, err)
	}
	t.Cleanup(func() { deleteExchange(broker, exchange) })
}
