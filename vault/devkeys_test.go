package vault

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tenant-service/domain"
)

// sameKey reports whether a data key wrapped by a opens under b.
func sameKey(t *testing.T, a, b *Keyring) bool {
	t.Helper()
	tenant := domain.NewTenantID()
	dek := make([]byte, KeySize)
	id, w, err := a.wrap(tenant, dek)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.unwrap(tenant, id, w)
	return err == nil
}

func TestDevKeyringKeepsItsKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".dev-keys", "encryption.key")
	first, created, err := DevKeyring(path)
	if err != nil || !created {
		t.Fatalf("first DevKeyring: created=%v err=%v", created, err)
	}
	if first.ActiveID() != DevKeyID {
		t.Errorf("active key %q, want %q", first.ActiveID(), DevKeyID)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, info.Mode().Perm(), want)
		}
	}
	second, created, err := DevKeyring(path)
	if err != nil || created {
		t.Fatalf("second DevKeyring: created=%v err=%v", created, err)
	}
	if !sameKey(t, first, second) {
		t.Error("a restart got a different key: what it sealed before would not open")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d files, want only the key file", len(entries))
	}
}

func TestDevKeyringConcurrentFirstUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "encryption.key")
	const n = 8
	rings := make([]*Keyring, n)
	createdCount := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, created, err := DevKeyring(path)
			if err != nil {
				t.Errorf("DevKeyring: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			rings[i] = k
			if created {
				createdCount++
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if createdCount != 1 {
		t.Errorf("%d callers report creating the key, want 1", createdCount)
	}
	for i := 1; i < n; i++ {
		if !sameKey(t, rings[0], rings[i]) {
			t.Fatalf("caller %d got another key", i)
		}
	}
}

func TestDevKeyringRejectsABadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")
	secret := randomKeyB64(t)
	if err := os.WriteFile(path, []byte("dev:"+secret[:30]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := DevKeyring(path)
	if err == nil {
		t.Fatal("DevKeyring accepted a truncated key")
	}
	if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), secret[:12]) {
		t.Errorf("error %q should name the file and not show its content", err)
	}
}
