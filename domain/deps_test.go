package domain_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The domain imports only the standard library: no database, HTTP framework
// or broker may leak in.
func TestDomainImportsOnlyStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "tenant-service/domain" {
			t.Errorf("domain depends on %s", pkg)
		}
	}
}
