package domain

import (
	"strings"
	"testing"
	"time"
)

// New tenant ids are version 7 UUIDs: valid ids of our own, with the
// creation time first, so that ids made later sort later.
func TestNewTenantIDIsTimeOrdered(t *testing.T) {
	at := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	id := newTenantIDAt(at)
	if parsed, err := ParseTenantID(string(id)); err != nil || parsed != id {
		t.Fatalf("ParseTenantID(%q) = %q, %v; want the id itself", id, parsed, err)
	}
	s := string(id)
	if s[14] != '7' || !strings.ContainsRune("89ab", rune(s[19])) {
		t.Errorf("%s: want version 7 and the RFC 9562 variant", s)
	}
	// The first 48 bits are the Unix time in milliseconds.
	ms := at.UnixMilli()
	if want := strings.ToLower(strings.ReplaceAll(s[:13], "-", "")); want != hex48(ms) {
		t.Errorf("%s starts with %s; want the time %s", s, want, hex48(ms))
	}
	prev := newTenantIDAt(at)
	for i := 1; i <= 100; i++ {
		next := newTenantIDAt(at.Add(time.Duration(i) * time.Millisecond))
		if next <= prev {
			t.Fatalf("an id made 1 ms later (%s) does not sort after %s", next, prev)
		}
		prev = next
	}
	if a, b := NewTenantID(), NewTenantID(); a == b {
		t.Errorf("two new ids are equal: %s", a)
	}
}

func hex48(ms int64) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 12)
	for i := 11; i >= 0; i-- {
		out[i] = digits[ms&0xf]
		ms >>= 4
	}
	return string(out)
}
