package domain_test

import (
	"testing"

	"tenant-service/internal/archtest"
)

// The domain is the centre: it depends on the standard library only, never on
// another package of the module, an adapter, a framework or the application.
func TestDomainDependsOnNothing(t *testing.T) {
	archtest.StandardLibraryOnly(t, "tenant-service/domain")
}
