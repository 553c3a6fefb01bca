package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps what a consuming service pulls in to the standard
// library and amqp091-go: never the tenant service's own modules.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "tenant-service/client", p == "tenant-service/client/tenantcache",
			strings.HasPrefix(p, "github.com/rabbitmq/amqp091-go"):
		default:
			t.Errorf("the client depends on %s", p)
		}
	}
}
