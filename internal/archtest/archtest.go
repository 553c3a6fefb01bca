// Package archtest checks the direction of the project's imports in tests:
// which packages a package may depend on, measured with `go list -deps`, so
// the layering is kept by a test, not by hope.
package archtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Deps returns every non-standard package pkg depends on, itself included.
// pkg is an import path of this module (e.g. "tenant-service/handlers").
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-deps",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v: %s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// Forbid fails the test for every dependency of pkg that starts with one of
// the forbidden prefixes (a module path, or a package of this module).
func Forbid(t testing.TB, pkg string, forbidden ...string) {
	t.Helper()
	for _, dep := range Deps(t, pkg) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
