package domain_test

import (
	"slices"
	"testing"

	"tenant-service/internal/archtest"
)

// The domain is the centre: it depends on the standard library only, never on
// another package of the module, an adapter, a framework or the application.
func TestDomainDependsOnNothing(t *testing.T) {
	deps := archtest.Deps(t, "tenant-service/domain")
	if !slices.Contains(deps, "tenant-service/domain") {
		t.Fatalf("go list -deps answered %v, without the package itself", deps)
	}
	for _, dep := range deps {
		if dep != "tenant-service/domain" {
			t.Errorf("domain depends on %s", dep)
		}
	}
}
