package tcpproxy

import "testing"

// MustRestore restores p or fails the test.
func MustRestore(t testing.TB, p *Proxy) {
	t.Helper()
	if err := p.Restore(); err != nil {
		t.Fatalf("restore proxy: %v", err)
	}
}
