// Package archtest checks the direction of the project's imports in tests:
// which packages a package may depend on, measured with `go list -deps`, so
// the layering is kept by a test, not by hope.
package archtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Deps returns every non-standard package pkg depends on, itself included.
// pkg is an import path of this module (e.g. "tenant-service/handlers").
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	return list(t, pkg, false)
}

// TestDeps is Deps for pkg's tests: what building them pulls in.
func TestDeps(t testing.TB, pkg string) []string {
	t.Helper()
	return list(t, pkg, true)
}

func list(t testing.TB, pkg string, tests bool) []string {
	t.Helper()
	args := []string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}
	if tests {
		args = append(args, "-test")
	}
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, pkg)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v: %s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// Forbid fails the test for every dependency of pkg that starts with one of
// the forbidden prefixes (a module path, or a package of this module).
func Forbid(t testing.TB, pkg string, forbidden ...string) {
	t.Helper()
	forbid(t, pkg, Deps(t, pkg), forbidden)
}

// ForbidInTests is Forbid for what pkg's tests pull in.
func ForbidInTests(t testing.TB, pkg string, forbidden ...string) {
	t.Helper()
	forbid(t, pkg+" (tests)", TestDeps(t, pkg), forbidden)
}

func forbid(t testing.TB, pkg string, deps, forbidden []string) {
	t.Helper()
	if len(deps) == 0 {
		t.Fatalf("go list found no dependencies of %s, not even itself", pkg)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// StandardLibraryOnly fails the test for every package outside the standard
// library that pkg depends on.
func StandardLibraryOnly(t testing.TB, pkg string) {
	t.Helper()
	deps := Deps(t, pkg)
	if !slices.Contains(deps, pkg) {
		t.Fatalf("go list -deps answered %v, without %s itself", deps, pkg)
	}
	for _, dep := range deps {
		if dep != pkg {
			t.Errorf("%s depends on %s", pkg, dep)
		}
	}
}
