package console_test

import (
	"slices"
	"testing"

	"tenant-service/internal/archtest"
)

// The console's server side is static files and a handler: it depends on
// the standard library only, so it can reach nothing the API does not.
func TestConsoleDependsOnTheStandardLibraryOnly(t *testing.T) {
	deps := archtest.Deps(t, "tenant-service/console")
	if !slices.Contains(deps, "tenant-service/console") {
		t.Fatalf("go list -deps answered %v, without the package itself", deps)
	}
	for _, dep := range deps {
		if dep != "tenant-service/console" {
			t.Errorf("console depends on %s", dep)
		}
	}
}
