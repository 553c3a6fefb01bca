package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tenant-service/internal/testenv"
)

// nodeConsumerDir holds the Node example the README shows to services not
// written in Go.
const nodeConsumerDir = "../../examples/node-consumer"

// The README's Node consumer keeps its lookups fresh, as a real amqplib
// client against the service and RabbitMQ: a rename, a "not found" that a
// link makes wrong, a deletion, and a change made while its broker
// connection was cut (through a proxy the test drives when the script asks).
func TestNodeConsumerExample(t *testing.T) {
	t.Parallel()
	node := nodeWith(t, "the Node consumer example", nodeConsumerDir, "amqplib")
	env := testEnv(t)
	a := startApp(t, env)
	proxy, amqpURL := proxyURL(t, testenv.AMQPURL(t))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.js")
	cmd.Dir = nodeConsumerDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BASE_URL=" + a.srv.URL, "ADMIN_KEY=" + adminKey,
		"SERVICE_KEY=" + serviceKey, "AMQP_URL=" + amqpURL, "AMQP_EXCHANGE=" + env["AMQP_EXCHANGE"], "BROKER_OUTAGE=1"}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		last = lines.Text()
		switch last {
		case "cut?":
			proxy.Cut()
		case "restore?":
			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
		default:
			continue
		}
		if _, err := io.WriteString(stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil || !strings.HasPrefix(last, "ok ") {
		t.Fatalf("node check.js: %v (last line %q)\n%s", err, last, stderr.String())
	}
	t.Logf("node check.js: %s", last)
}
