package handlers

import (
	"strings"
	"testing"
)

func TestParseAPIKeys(t *testing.T) {
	keys, err := ParseAPIKeys(" admin:aaaaaaaaaaaaaaaa , service:bbbbbbbbbbbbbbbb,auditor:cccccccccccccccc,")
	if err != nil || len(keys) != 3 || keys[1].Role != RoleService || keys[2].Key != "cccccccccccccccc" {
		t.Fatalf("keys = %+v, %v", keys, err)
	}
	for _, bad := range []string{"admin", "root:aaaaaaaaaaaaaaaa", "admin:short"} {
		_, err := ParseAPIKeys(bad)
		if err == nil {
			t.Fatalf("accepted %q", bad)
		}
		if strings.Contains(err.Error(), "aaaaaaaaaaaaaaaa") || strings.Contains(err.Error(), "short") {
			t.Fatalf("error shows the key: %v", err)
		}
	}
}

func TestKeyringLookup(t *testing.T) {
	k := newKeyring([]APIKey{{RoleAdmin, "admin-key-0123456789"}, {RoleService, "service-key-0123456789"}})
	e, ok := k.lookup("service-key-0123456789")
	if !ok || e.role != RoleService || !strings.HasPrefix(e.identity, "service:") || strings.Contains(e.identity, "0123456789") {
		t.Fatalf("lookup = %+v, %v", e, ok)
	}
	for _, bad := range []string{"", "service-key-012345678", "service-key-01234567890", "admin-key-0123456789 "} {
		if _, ok := k.lookup(bad); ok {
			t.Fatalf("lookup(%q) matched", bad)
		}
	}
	a, _ := k.lookup("admin-key-0123456789")
	if a.identity == e.identity {
		t.Fatal("two keys share an identity")
	}
}
