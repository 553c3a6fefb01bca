package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"tenant-service/domain"
)

// randomKeyB64 returns a random 32-byte key in standard base64.
func randomKeyB64(t testing.TB) string {
	t.Helper()
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// testKeys returns ENCRYPTION_KEYS entries with random keys, by id.
func testKeys(t testing.TB, ids ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, id := range ids {
		m[id] = id + ":" + randomKeyB64(t)
	}
	return m
}

// ring builds a keyring from some of the entries; the first is active.
func ring(t testing.TB, entries map[string]string, ids ...string) *Keyring {
	t.Helper()
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = entries[id]
	}
	k, err := ParseKeyring(strings.Join(parts, ","), ids[0])
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

func TestParseKeyringErrors(t *testing.T) {
	k1, k2 := randomKeyB64(t), randomKeyB64(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	urlKey := strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(k2), "=")
	tests := []struct {
		name, keys, active, want string
	}{
		{"empty", "  ", "", "ENCRYPTION_KEYS is empty"},
		{"no colon", k1, "", "entry 1: want id:base64key"},
		{"empty id", ":" + k1, "", "entry 1: key id must be 1 to 32 characters"},
		{"bad id", "k 1:" + k1, "", "entry 1: key id may contain only"},
		{"key in id position", urlKey + ":k1", "", "entry 1: key id must be"},
		{"not base64", "k1:" + k1[:20] + "!!" + k1[22:], "", `entry 1 ("k1"): key is not valid base64`},
		{"short key", "k1:" + short, "", `entry 1 ("k1"): key must decode to 32 bytes, got 16`},
		{"second entry bad", "k1:" + k1 + ",k2:" + k2[:10] + "*", "", `entry 2 ("k2"): key is not valid base64`},
		{"duplicate id", "k1:" + k1 + ",k1:" + k2, "", `entry 2 ("k1"): key id is used twice`},
		{"trailing comma", "k1:" + k1 + ",", "", "entry 2: want id:base64key"},
		{"key as active id", "k1:" + k1, k2, "ENCRYPTION_ACTIVE_KEY: key id must be 1 to 32 characters"},
		{"unknown active", "k1:" + k1 + ",k2:" + k2, "k3", `ENCRYPTION_ACTIVE_KEY "k3" is not a key id in ENCRYPTION_KEYS (ids: k1, k2)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeyring(tc.keys, tc.active)
			if err == nil {
				t.Fatalf("ParseKeyring accepted %s: %v", tc.name, k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{k1[:12], k2[:12], urlKey[:12], short[:12]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows key material", err)
				}
			}
		})
	}
}

func TestParseKeyringAccepts(t *testing.T) {
	k1, k2 := randomKeyB64(t), randomKeyB64(t)
	raw := strings.TrimRight(k2, "=")
	urlKey := strings.NewReplacer("+", "-", "/", "_").Replace(raw)
	for _, tc := range []struct{ keys, active, wantActive string }{
		{"k1:" + k1 + ",k2:" + k2, "", "k1"},
		{" k1 : " + k1 + " , k2:" + k2 + " ", " k2 ", "k2"},
		{"k1:" + k1 + ",k2:" + raw, "k2", "k2"},
		{"k1:" + k1 + ",k2:" + urlKey, "k2", "k2"},
	} {
		k, err := ParseKeyring(tc.keys, tc.active)
		if err != nil {
			t.Fatalf("ParseKeyring(%q): %v", tc.active, err)
		}
		if k.ActiveID() != tc.wantActive || fmt.Sprint(k.IDs()) != "[k1 k2]" || !k.Has("k2") || k.Has("k3") {
			t.Errorf("keyring %v: want active %s and ids [k1 k2]", k, tc.wantActive)
		}
	}
	// Every accepted spelling of k2 is the same key: a wrap under one opens under another.
	a, _ := ParseKeyring("k2:"+k2, "")
	b, _ := ParseKeyring("k2:"+urlKey, "")
	tenant := domain.NewTenantID()
	dek := make([]byte, KeySize)
	_, w, err := a.wrap(tenant, dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.unwrap(tenant, "k2", w); err != nil {
		t.Errorf("unwrap under the URL-safe spelling: %v", err)
	}
}

func TestKeyringShowsNoKeyMaterial(t *testing.T) {
	key := randomKeyB64(t)
	k, err := ParseKeyring("main:"+key, "")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "ring", k)
	raw, _ := base64.StdEncoding.DecodeString(key)
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), logged.String()} {
		if !strings.Contains(s, "main") {
			t.Errorf("%q does not name the key id", s)
		}
		if strings.Contains(s, key[:12]) || strings.Contains(s, string(raw[:8])) || strings.Contains(s, fmt.Sprint(raw[:4])) {
			t.Errorf("%q shows key material", s)
		}
	}
}

func TestGenerateKeyEntry(t *testing.T) {
	a, err := GenerateKeyEntry("k-2026.1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKeyEntry("other")
	k, err := ParseKeyring(a+","+b, "")
	if err != nil {
		t.Fatalf("generated entries do not parse: %v", err)
	}
	if k.ActiveID() != "k-2026.1" {
		t.Errorf("active = %s", k.ActiveID())
	}
	if a[len("k-2026.1:"):] == b[len("other:"):] {
		t.Error("two generated keys are equal")
	}
	if _, err := GenerateKeyEntry("bad id"); err == nil {
		t.Error("GenerateKeyEntry accepted an invalid id")
	}
}
