package console_test

import (
	"testing"

	"tenant-service/internal/archtest"
)

// The console's server side is static files and a handler: it depends on
// the standard library only, so it can reach nothing the API does not.
func TestConsoleDependsOnTheStandardLibraryOnly(t *testing.T) {
	archtest.StandardLibraryOnly(t, "tenant-service/console")
}
