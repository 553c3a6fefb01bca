// Package spectraltest lints the project's API descriptions (the OpenAPI
// document of the HTTP API, the AsyncAPI document of the messages) with
// Spectral, a real linter, from tests. Spectral is an npm package installed
// next to this file from its package-lock.json by `make node-deps`.
package spectraltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Lint runs Spectral on doc with ruleset (paths relative to the calling
// test's package directory) and fails the test on any error or warning,
// showing what Spectral printed. A missing Spectral fails the test too, never
// skips it.
func Lint(t testing.TB, doc, ruleset string) {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("spectraltest: cannot tell where Spectral is installed")
	}
	bin := filepath.Join(filepath.Dir(self), "node_modules", ".bin", "spectral")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Spectral is not installed (%v): run `make node-deps`", err)
	}
	out, err := exec.Command(bin, "lint", doc, "--ruleset", ruleset,
		"--fail-severity", "warn", "--format", "text").CombinedOutput()
	if err != nil {
		t.Fatalf("spectral lint %s: %v\n%s", doc, err, out)
	}
}
